package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"gorm.io/gorm"

	"github.com/civic-platform/security/adapters/smtpmail"
	"github.com/civic-platform/security/adapters/smtpmail/smtptest"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/onboard"
	"github.com/civic-platform/security/session/secrets"
	"github.com/civic-platform/security/session/signin"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "onboarding:", err)
		os.Exit(1)
	}
}

// city is everything the example wires together, as a service would.
type city struct {
	store    *sqlitestore.Store
	authz    *iam.Authorizer
	admin    *iam.Admin
	users    signin.Store
	signin   *signin.Service
	sessions *session.Manager
	keys     *apikey.Manager
	act      *onboard.Activator
	hr       *onboard.Service
	smtp     *smtptest.Server
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "onboarding-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c, closeAll, err := build(ctx, dir)
	defer closeAll()
	if err != nil {
		return err
	}

	// 1. HR records a new By-law Officer who starts today.
	rec := onboard.Record{EmployeeID: "E1042", GivenName: "Julie", FamilyName: "Tremblay", Email: "julie.tremblay@lakeview.ca",
		Position: "Agente d'application des règlements municipaux", Department: "bylaw", Manager: "E0007",
		StartDate: time.Now(), Language: "fr"}
	res, err := c.hr.Onboard(ctx, rec)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "HR record %s: %s, user %s, %s at %s\n", rec.EmployeeID, res.Kind, res.User.ID, res.Assigned[0].Role, res.Assigned[0].Scope)
	if again, err := c.hr.Onboard(ctx, rec); err != nil || again.Kind != onboard.Unchanged {
		return fmt.Errorf("the same record again: %v %v", again.Kind, err)
	}
	fmt.Fprintln(out, "the same record again: unchanged")

	// 2. The welcome message, as the SMTP server received it.
	got := c.smtp.Wait(1, 10*time.Second)
	if len(got) != 1 {
		return fmt.Errorf("the SMTP server received %d messages", len(got))
	}
	subject, link, err := readWelcome(got[0].Data)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "welcome mail to %s: %q with a one-time link\n", got[0].To[0], subject)

	// 3. First sign-in: the link sets a password, once.
	u, err := url.Parse(link)
	if err != nil {
		return err
	}
	token := u.Query().Get("token")
	const pw = "trois pommes vertes au marché"
	if _, err := c.act.Redeem(ctx, token, pw); err != nil {
		return err
	}
	_, err = c.act.Redeem(ctx, token, "another pass phrase entirely")
	fmt.Fprintf(out, "activation link used again: refused (%t)\n", errors.Is(err, onboard.ErrInvalidLink))
	first, err := c.signin.SignIn(ctx, signin.Attempt{Email: rec.Email, Password: pw, Client: "198.51.100.7"})
	if err != nil {
		return err
	}
	s, err := c.sessions.Verify(ctx, first.Session.Token)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "first sign-in: session for %s\n", s.Subject)
	if err := c.may(ctx, out, "bylaw.case.read", "dept:bylaw"); err != nil {
		return err
	}

	// Her personal API key for her own scripts.
	if _, err := c.keys.CreateAccount(ctx, apikey.Account{ID: onboard.PersonalAccountID(res.User.ID), Owner: "user:e1042",
		Department: "bylaw", Description: "Julie's ticket scripts"}); err != nil {
		return err
	}
	if _, err := c.admin.Assign(ctx, rbac.Grant{Subject: "svc:personal-e1042", Role: "bylaw-officer", Scope: "dept:bylaw", Reason: "personal scripts"}); err != nil {
		return err
	}
	key, err := c.keys.CreateKey(ctx, onboard.PersonalAccountID(res.User.ID), apikey.KeySpec{Name: "laptop"})
	if err != nil {
		return err
	}
	if _, err := c.keys.Authorize(ctx, key.Secret, "bylaw.case.read", "dept:bylaw"); err != nil {
		return err
	}
	fmt.Fprintln(out, "personal API key: accepted")

	// 4. HR moves her to Parks: old roles out, new in, one change.
	rec.Department = "parks"
	moved, err := c.hr.Onboard(ctx, rec)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "HR record %s: %s, revoked %s at %s, assigned %s at %s\n", rec.EmployeeID, moved.Kind,
		moved.Revoked[0].Role, moved.Revoked[0].Scope, moved.Assigned[0].Role, moved.Assigned[0].Scope)
	if err := c.may(ctx, out, "bylaw.case.read", "dept:bylaw"); err != nil {
		return err
	}
	if err := c.may(ctx, out, "bylaw.case.read", "dept:parks"); err != nil {
		return err
	}

	// 5. She leaves.
	rep, err := c.hr.Offboard(ctx, rec.EmployeeID, "resigned")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "offboarded: %d grants revoked, %d session ended, %d personal key revoked, accounts disabled %v\n",
		len(rep.Grants), rep.Sessions, len(rep.RevokedKeys), rep.DisabledAccounts)
	_, err = c.sessions.Verify(ctx, first.Session.Token)
	fmt.Fprintf(out, "old session: refused (%t)\n", err != nil)
	_, err = c.keys.Verify(ctx, key.Secret)
	fmt.Fprintf(out, "old API key: refused (%t)\n", err != nil)
	_, err = c.signin.SignIn(ctx, signin.Attempt{Email: rec.Email, Password: pw, Client: "198.51.100.7"})
	fmt.Fprintf(out, "sign-in: refused (%t)\n", errors.Is(err, signin.ErrInvalidCredentials))
	return c.may(ctx, out, "bylaw.case.read", "dept:parks")
}

func (c *city) may(ctx context.Context, out io.Writer, perm iam.Permission, scope iam.Scope) error {
	d, err := c.authz.Check(ctx, "user:e1042", perm, scope)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  may %s at %s: %t\n", perm, scope, d.Allowed)
	return nil
}

var linkRE = regexp.MustCompile(`https://\S+\?token=\S+`)

// readWelcome decodes a received message: its subject and the link.
func readWelcome(raw []byte) (string, string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", "", err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return "", "", err
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		return "", "", err
	}
	link := linkRE.FindString(string(body))
	if link == "" {
		return "", "", errors.New("no activation link in the welcome message")
	}
	return subject, link, nil
}

// build wires the store, the identity services, the SMTP server and
// onboarding. The returned function closes everything built.
func build(ctx context.Context, dir string) (*city, func(), error) {
	var closers []func() error
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	c := &city{}
	var err error
	if c.store, err = sqlitestore.Open(filepath.Join(dir, "city.db")); err != nil {
		return nil, closeAll, err
	}
	closers = append(closers, c.store.Close)
	db := c.store.DB()
	for _, m := range []func(context.Context, *gorm.DB) error{sqlitestore.Migrate, sqlitestore.MigrateIdentity, sqlitestore.MigrateAPIKeys, sqlitestore.MigrateEpochs} {
		if err := m(ctx, db); err != nil {
			return nil, closeAll, err
		}
	}
	if c.authz, err = iam.New(ctx, c.store); err != nil {
		return nil, closeAll, err
	}
	closers = append(closers, c.authz.Close)
	c.admin = iam.NewOutboxAdmin(c.authz, c.store)
	// The departments onboarding grants at.
	if _, err := c.admin.Apply(ctx, rbac.Change{PutScopes: []rbac.ScopeNode{{Scope: "dept:bylaw", Parent: "org"}, {Scope: "dept:parks", Parent: "org"}}}); err != nil {
		return nil, closeAll, err
	}

	if c.users, err = sqlitestore.NewIdentityStore(db); err != nil {
		return nil, closeAll, err
	}
	epochs, err := sqlitestore.NewEpochs(db)
	if err != nil {
		return nil, closeAll, err
	}
	signingKey, err := session.GenerateKey(session.EdDSA, "sess-1")
	if err != nil {
		return nil, closeAll, err
	}
	ring, err := session.NewKeyring(signingKey)
	if err != nil {
		return nil, closeAll, err
	}
	// Revocations live in the policy store, so every process refuses an
	// ended session.
	if c.sessions, err = session.New(session.NewMemoryStore(), ring, session.WithEpochs(epochs)); err != nil {
		return nil, closeAll, err
	}
	closers = append(closers, c.sessions.Close)
	line, err := secrets.GenerateKey("local-1")
	if err != nil {
		return nil, closeAll, err
	}
	sk, err := secrets.ParseKeys(line)
	if err != nil {
		return nil, closeAll, err
	}
	sealer, err := secrets.NewSealer(sk)
	if err != nil {
		return nil, closeAll, err
	}
	if c.signin, err = signin.New(c.users, sealer, signin.WithSessions(signin.ManagerSessions(c.sessions))); err != nil {
		return nil, closeAll, err
	}
	keyStore, err := sqlitestore.NewAPIKeyStore(db)
	if err != nil {
		return nil, closeAll, err
	}
	hashKey := make([]byte, 32)
	if _, err := rand.Read(hashKey); err != nil {
		return nil, closeAll, err
	}
	if c.keys, err = apikey.New(keyStore, c.authz, hashKey); err != nil {
		return nil, closeAll, err
	}
	closers = append(closers, c.keys.Close)

	// A real SMTP server on a loopback port stands in for the city's relay.
	if c.smtp, err = smtptest.Start(); err != nil {
		return nil, closeAll, err
	}
	closers = append(closers, c.smtp.Close)
	mailer, err := smtpmail.New(c.smtp.Addr(), onboard.Address{Name: "Ville de Lakeview — TI", Email: "ti@lakeview.ca"})
	if err != nil {
		return nil, closeAll, err
	}
	linkKey := make([]byte, 32)
	if _, err := rand.Read(linkKey); err != nil {
		return nil, closeAll, err
	}
	if c.act, err = onboard.NewActivator(linkKey, "https://iam.lakeview.ca/activate", 72*time.Hour, c.users, c.signin, nil); err != nil {
		return nil, closeAll, err
	}
	c.hr, err = onboard.New(c.users, c.store, c.admin,
		onboard.WithMailer(mailer), onboard.WithActivation(c.act), onboard.WithOrganisation("Ville de Lakeview"),
		onboard.WithSessions(c.sessions), onboard.WithKeys(c.keys))
	if err != nil {
		return nil, closeAll, err
	}
	return c, closeAll, nil
}
