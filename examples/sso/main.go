package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/oidc"
	"github.com/civic-platform/security/session/oidc/oidctest"
	"github.com/civic-platform/security/session/sso"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sso:", err)
		os.Exit(1)
	}
}

const (
	cityTenant  = "5b2f7c1e-3a4d-4e8f-9a0b-1c2d3e4f5a6b" // the city's Entra tenant id
	otherTenant = "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f"
	bylawGroup  = "3f6e2a10-bylaw-officers" // the group's object id in Entra
	clientID    = "civic-permits"
)

// events prints the audit events the sign-ins produce.
type events struct {
	mu  sync.Mutex
	out io.Writer
}

func (e *events) Record(_ context.Context, ev sso.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev.Type {
	case "sso.refused":
		fmt.Fprintf(e.out, "  event %s: %s\n", ev.Type, ev.Detail["reason"])
	default:
		fmt.Fprintf(e.out, "  event %s %s\n", ev.Type, ev.Subject)
	}
	return nil
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "sso-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The embedded store holds the policy, the user records and the links
	// from external identities to users.
	store, err := sqlitestore.Open(filepath.Join(dir, "civic.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := sqlitestore.Migrate(ctx, store.DB()); err != nil {
		return err
	}
	if err := sqlitestore.MigrateIdentity(ctx, store.DB()); err != nil {
		return err
	}
	if err := sqlitestore.MigrateSSOLinks(ctx, store.DB()); err != nil {
		return err
	}
	users, err := sqlitestore.NewIdentityStore(store.DB())
	if err != nil {
		return err
	}
	links, err := sqlitestore.NewSSOLinks(store.DB())
	if err != nil {
		return err
	}
	authz, err := iam.New(ctx, store)
	if err != nil {
		return err
	}
	defer authz.Close()
	admin := iam.NewAdmin(authz, store)

	// The shipped role templates (Bylaw Officer among them) and the
	// departments.
	set, err := templates.Default()
	if err != nil {
		return err
	}
	if _, err := admin.Apply(ctx, rbac.Change{
		AddPermissions: set.Permissions(), PutRoles: set.Roles(),
		PutScopes: []rbac.ScopeNode{{Scope: "dept:bylaw", Parent: "org"}, {Scope: "dept:parks", Parent: "org"}},
	}); err != nil {
		return fmt.Errorf("policy: %w", err)
	}

	// The web application: its OIDC callback is where the provider sends
	// the browser back.
	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	defer app.Close()
	callback := app.URL + "/api/v1/auth/sso/oidc/callback"

	// Azure AD stand-in: a real OpenID Connect provider with Entra's
	// claims (tid, oid, groups, amr).
	idp, err := oidctest.New(oidctest.Config{Tenant: cityTenant, ClientID: clientID, ClientSecret: "dev-only-secret",
		RedirectURIs: []string{callback},
		Users: []oidctest.User{
			{Username: "sgirard@lakeview.ca", Password: "dev-only-password", ID: "u-1", OID: "9a8b7c6d-0000-4000-8000-00000000a001",
				Email: "sam.girard@lakeview.ca", EmailVerified: true, Name: "Sam Girard", Groups: []string{bylawGroup},
				AMR: []string{"pwd", "mfa"}, Claims: map[string]any{"department": "bylaw"}},
			{Username: "guest@partner.example", Password: "dev-only-password", ID: "u-2", TID: otherTenant,
				OID: "1b2c3d4e-0000-4000-8000-00000000b002", Email: "guest@partner.example", EmailVerified: true,
				Groups: []string{bylawGroup}, AMR: []string{"pwd"}},
		}})
	if err != nil {
		return err
	}
	defer idp.Close()

	key, err := session.GenerateKey(session.EdDSA, "sess-2026-11")
	if err != nil {
		return err
	}
	ring, err := session.NewKeyring(key)
	if err != nil {
		return err
	}
	sessions, err := session.New(session.NewMemoryStore(), ring, session.WithAudience("permits"))
	if err != nil {
		return err
	}
	defer sessions.Close()

	// Linking, just-in-time accounts and the group → template mapping.
	accounts, err := sso.New(users, links, sessions, []sso.Provider{{
		Name:                "entra",
		EmailDomains:        []string{"lakeview.ca"},
		JIT:                 &sso.JIT{Tenants: []string{cityTenant}, Domains: []string{"lakeview.ca"}},
		DepartmentAttribute: "department",
		Mappings:            []sso.Mapping{{Group: bylawGroup, Role: "bylaw-officer", Scope: sso.UserDepartment}},
	}}, sso.WithAssigner(admin), sso.WithEvents(&events{out: out}))
	if err != nil {
		return err
	}
	rp, err := oidc.New(ctx, oidc.Config{Provider: "entra", Issuer: idp.Issuer(), Tenants: []string{cityTenant}, Entra: true,
		ClientID: clientID, ClientSecret: "dev-only-secret", RedirectURL: callback, AttributeClaims: []string{"department"}},
		accounts, oidc.WithSessionEnder(sessions))
	if err != nil {
		return err
	}
	mux.HandleFunc("GET /api/v1/auth/sso/oidc/login", rp.Begin)
	mux.HandleFunc("GET /api/v1/auth/sso/oidc/callback", rp.Callback)
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		s, err := sessions.Verify(r.Context(), c.Value)
		if err != nil {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "%s methods=%s level=%s", s.Subject, s.Methods, s.Level)
	})

	// 1. The bylaw officer signs in with a browser.
	fmt.Fprintln(out, "bylaw officer signs in through the city's identity provider:")
	start := time.Now()
	body, status, err := signIn(ctx, idp, app.URL, "sgirard@lakeview.ca")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "session: %s (status %d, %s)\n", body, status, durationClass(time.Since(start)))
	if status != http.StatusOK {
		return errors.New("sign-in failed")
	}
	for _, c := range []struct {
		perm  rbac.Permission
		scope rbac.Scope
	}{{"bylaw.ticket.issue", "dept:bylaw"}, {"bylaw.ticket.issue", "dept:parks"}, {"bylaw.ticket.void", "dept:bylaw"}} {
		d, err := authz.Check(ctx, "user:sam.girard@lakeview.ca", c.perm, c.scope)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s at %s: %v\n", c.perm, c.scope, d.Allowed)
	}

	// 2. Someone from another tenant is refused; nothing is created.
	fmt.Fprintln(out, "guest from another tenant signs in:")
	_, status, err = signIn(ctx, idp, app.URL, "guest@partner.example")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "status %d\n", status)

	// 3. A forged ID token (alg none) is refused.
	fmt.Fprintln(out, "an ID token forged with alg none:")
	idp.RewriteIDTokens(func(raw string) string {
		return oidctest.Unsigned(map[string]any{"alg": "none"}, oidctest.Claims(raw), nil)
	})
	_, status, err = signIn(ctx, idp, app.URL, "sgirard@lakeview.ca")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "status %d\n", status)
	return nil
}

// signIn drives a fresh browser through the provider's login page and
// returns what /me answers afterwards.
func signIn(ctx context.Context, idp *oidctest.Provider, app, username string) (string, int, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", 0, err
	}
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := idp.Login(ctx, browser, app+"/api/v1/auth/sso/oidc/login?return=/me", username, "dev-only-password")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// durationClass keeps the output stable: the measured figure is in
// BENCHMARKS.md.
func durationClass(d time.Duration) string {
	if d < 2*time.Second {
		return "under 2 s"
	}
	return "over 2 s"
}
