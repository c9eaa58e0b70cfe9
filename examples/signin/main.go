package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/secrets"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/totp"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "signin:", err)
		os.Exit(1)
	}
}

// clock is the example's simulated time.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "signin-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The embedded store keeps users, password hashes, sealed TOTP
	// secrets, recovery codes and lockout counters.
	db, err := sqlitestore.Open(filepath.Join(dir, "civic.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := sqlitestore.MigrateIdentity(ctx, db.DB()); err != nil {
		return err
	}
	users, err := sqlitestore.NewIdentityStore(db.DB())
	if err != nil {
		return err
	}

	// Secrets at rest: in production, secrets.LoadKeyFile or KeysFromEnv.
	line, err := secrets.GenerateKey("local-2026")
	if err != nil {
		return err
	}
	keys, err := secrets.ParseKeys(line)
	if err != nil {
		return err
	}
	sealer, err := secrets.NewSealer(keys)
	if err != nil {
		return err
	}

	clk := &clock{}
	clk.ns.Store(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC).UnixNano())

	signingKey, err := session.GenerateKey(session.EdDSA, "sess-2026-11")
	if err != nil {
		return err
	}
	ring, err := session.NewKeyring(signingKey)
	if err != nil {
		return err
	}
	sessions, err := session.New(session.NewMemoryStore(), ring, session.WithClock(clk.now), session.WithAudience("permits"))
	if err != nil {
		return err
	}
	defer sessions.Close()

	codes := totp.Config{Issuer: "City of Lakeview"}
	svc, err := signin.New(users, sealer,
		signin.WithSessions(signin.ManagerSessions(sessions)),
		signin.WithTOTP(codes), signin.WithClock(clk.now))
	if err != nil {
		return err
	}

	show := func(label, token string) {
		s, err := sessions.Verify(ctx, token)
		if err != nil {
			fmt.Fprintf(out, "%s: refused: %v\n", label, err)
			return
		}
		fmt.Fprintf(out, "%s: %s methods=%s level=%s mfa=%s expires=%s\n", label, s.Subject, s.Methods, s.Level, s.MFA, s.Expires.Format(time.RFC3339))
	}

	// 1. A staff member with a password.
	u, err := svc.CreateUser(ctx, signin.User{ID: "jtremblay", EmployeeID: "E1042", Email: "Julie.Tremblay@lakeview.ca",
		DisplayName: "Julie Tremblay", Language: "fr", Department: "building"})
	if err != nil {
		return err
	}
	if err := svc.SetPassword(ctx, u.ID, "Montreal2024!"); err != nil {
		fmt.Fprintln(out, "weak password refused:", err)
	}
	const pw = "trois pommes vertes au marché"
	if err := svc.SetPassword(ctx, u.ID, pw); err != nil {
		return err
	}

	// 2. Password sign-in.
	first, err := svc.SignIn(ctx, signin.Attempt{Email: "julie.tremblay@lakeview.ca", Password: pw, Client: "198.51.100.7"})
	if err != nil {
		return err
	}
	show("password sign-in", first.Session.Token)
	_, err = svc.SignIn(ctx, signin.Attempt{Email: "julie.tremblay@lakeview.ca", Password: "wrong", Client: "198.51.100.7"})
	fmt.Fprintln(out, "wrong password:", err)
	_, err = svc.SignIn(ctx, signin.Attempt{Email: "nobody@lakeview.ca", Password: "wrong", Client: "198.51.100.7"})
	fmt.Fprintln(out, "unknown email:", err)

	// 3. TOTP enrolment: the app scans the QR code, the first code confirms.
	enrol, err := svc.BeginTOTP(ctx, u.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "enrol: %s... QR PNG %t\n", enrol.URI[:strings.Index(enrol.URI, "?")], len(enrol.PNG) > 0)
	code, err := codes.Code(enrol.Secret, clk.now())
	if err != nil {
		return err
	}
	recovery, err := svc.ConfirmTOTP(ctx, u.ID, code)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "enrolled: %d recovery codes\n", len(recovery))
	if err := sessions.Logout(ctx, first.Session.Token); err != nil {
		return err
	}

	// 4. Sign in again: the password, then a code.
	clk.advance(30 * time.Second)
	step1, err := svc.SignIn(ctx, signin.Attempt{Email: "julie.tremblay@lakeview.ca", Password: pw, Client: "198.51.100.7"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "password accepted, second factor required: %t\n", step1.MFARequired)
	code, err = codes.Code(enrol.Secret, clk.now())
	if err != nil {
		return err
	}
	done, err := svc.CompleteMFA(ctx, signin.MFAAttempt{Challenge: step1.Challenge, Code: code, Client: "198.51.100.7"})
	if err != nil {
		return err
	}
	show("password+TOTP sign-in", done.Session.Token)

	// 5. The same code again is refused.
	_, err = svc.CompleteMFA(ctx, signin.MFAAttempt{Challenge: step1.Challenge, Code: code, Client: "198.51.100.7"})
	fmt.Fprintf(out, "replayed code: %v (invalid code: %t)\n", err, errors.Is(err, signin.ErrInvalidCode))

	// 6. Logout; the old token is refused.
	if err := sessions.Logout(ctx, done.Session.Token); err != nil {
		return err
	}
	show("after logout", done.Session.Token)
	return nil
}
