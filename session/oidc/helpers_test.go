package oidc_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/oidc"
	"github.com/civic-platform/security/session/oidc/oidctest"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
)

const (
	tenant   = "5b2f7c1e-3a4d-4e8f-9a0b-1c2d3e4f5a6b"
	clientID = "permits-portal"
	secret   = "test-client-secret-not-real"
)

type recorder struct {
	mu sync.Mutex
	ev []sso.Event
}

func (r *recorder) Record(_ context.Context, e sso.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ev = append(r.ev, e)
	return nil
}

func (r *recorder) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.ev {
		if e.Type == typ {
			n++
		}
	}
	return n
}

type countingSessions struct {
	m  *session.Manager
	mu sync.Mutex
	n  int
}

func (c *countingSessions) Create(ctx context.Context, st session.Start) (session.Session, string, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.m.Create(ctx, st)
}

func (c *countingSessions) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// env is a relying party, a real provider and the sso service.
type env struct {
	idp      *oidctest.Provider
	rp       *oidc.RelyingParty
	srv      *httptest.Server
	users    *signin.MemStore
	links    *sso.MemLinks
	sessions *countingSessions
	mgr      *session.Manager
	authz    *iam.Authorizer
	events   *recorder
	clock    *clock
}

type clock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.d)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

var staff = oidctest.User{
	Username: "sgirard", Password: "correct horse battery staple", ID: "u-1001",
	OID: "9a8b7c6d-0000-4000-8000-00000000a001", Email: "sam.girard@lakeview.ca", EmailVerified: true,
	Name: "Sam Girard", Groups: []string{"g-bylaw"}, AMR: []string{"pwd", "mfa"},
	Claims: map[string]any{"department": "bylaw"},
}

type envOpts struct {
	users  []oidctest.User
	cfg    func(*oidc.Config)
	opts   []oidc.Option
	logout bool
}

func provider() sso.Provider {
	return sso.Provider{
		Name: "entra", EmailDomains: []string{"lakeview.ca"},
		JIT:                 &sso.JIT{Tenants: []string{tenant}, Domains: []string{"lakeview.ca"}},
		DepartmentAttribute: "department",
		Mappings:            []sso.Mapping{{Group: "g-bylaw", Role: "bylaw-officer", Scope: sso.UserDepartment}},
	}
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{users: signin.NewMemStore(), links: sso.NewMemLinks(), events: &recorder{}, clock: &clock{}}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	users := o.users
	if users == nil {
		users = []oidctest.User{staff}
	}
	var err error
	e.idp, err = oidctest.New(oidctest.Config{Tenant: tenant, ClientID: clientID, ClientSecret: secret,
		RedirectURIs: []string{e.srv.URL + "/callback"}, PostLogoutRedirectURIs: []string{e.srv.URL + "/bye"}, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.idp.Close)

	key, err := session.GenerateKey(session.EdDSA, "k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := session.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	e.mgr, err = session.New(session.NewMemoryStore(), ring)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.mgr.Close() })
	e.sessions = &countingSessions{m: e.mgr}
	store := iamtest.NewStore(rbac.Model{
		Roles:  []rbac.Role{{ID: "bylaw-officer", Permissions: []rbac.Permission{"bylaw.ticket.create"}}},
		Scopes: []rbac.ScopeNode{{Scope: "dept:bylaw", Parent: "org"}},
	})
	e.authz, err = iam.New(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.authz.Close() })
	svc, err := sso.New(e.users, e.links, e.sessions, []sso.Provider{provider()}, sso.WithAssigner(iam.NewAdmin(e.authz, store)), sso.WithEvents(e.events))
	if err != nil {
		t.Fatal(err)
	}
	cfg := oidc.Config{Provider: "entra", Issuer: e.idp.Issuer(), Tenants: []string{tenant}, Entra: true,
		ClientID: clientID, ClientSecret: secret, RedirectURL: e.srv.URL + "/callback",
		PostLogoutRedirectURL: e.srv.URL + "/bye", AttributeClaims: []string{"department"}}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	opts := append([]oidc.Option{oidc.WithClock(e.clock.now), oidc.WithSessionEnder(e.mgr)}, o.opts...)
	e.rp, err = oidc.New(ctx, cfg, svc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/login", e.rp.Begin)
	mux.HandleFunc("/callback", e.rp.Callback)
	mux.HandleFunc("/logout", e.rp.Logout)
	mux.HandleFunc("/bye", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("signed out")) })
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		s, err := e.mgr.Verify(r.Context(), c.Value)
		if err != nil {
			http.Error(w, "bad session", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(s.Subject + " " + s.Methods.String() + " " + s.Level.String()))
	})
	return e
}

func browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// nothingCreated checks that a refused sign-in left no user, link or
// session, and was reported.
func (e *env) nothingCreated(t *testing.T) {
	t.Helper()
	if n := e.links.Count(); n != 0 {
		t.Errorf("%d links created", n)
	}
	if n := e.sessions.count(); n != 0 {
		t.Errorf("%d sessions created", n)
	}
	if _, err := e.users.UserByEmail(context.Background(), staff.Email); err == nil {
		t.Error("user created")
	}
	if e.events.count("sso.refused") == 0 {
		t.Error("no sso.refused event")
	}
}
