package saml_test

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
	"github.com/civic-platform/security/session/saml"
	"github.com/civic-platform/security/session/saml/samltest"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
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

// errResponder records what ACS answered.
type errResponder struct {
	mu  sync.Mutex
	err error
	ok  int
}

func (r *errResponder) SignedIn(w http.ResponseWriter, _ *http.Request, _ sso.Result, _ string) {
	r.mu.Lock()
	r.ok++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *errResponder) Failed(w http.ResponseWriter, _ *http.Request, err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	http.Error(w, "sign-in failed", http.StatusUnauthorized)
}

func (r *errResponder) last() (error, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err, r.ok
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

var officer = samltest.User{Name: "sgirard", Password: "correct horse battery staple", Email: "sam.girard@lakeview.ca", Groups: []string{"bylaw"}, CommonName: "Sam Girard"}

type env struct {
	idp      *samltest.IdP
	sp       *saml.ServiceProvider
	srv      *httptest.Server
	users    *signin.MemStore
	links    *sso.MemLinks
	sessions *countingSessions
	mgr      *session.Manager
	authz    *iam.Authorizer
	events   *recorder
	clock    *clock
	rec      *errResponder
	cfg      saml.Config
	svc      *sso.Service
	spOpts   []saml.Option
	acs      http.HandlerFunc // what POST /saml/acs runs; e.sp.ACS by default
}

type envOpts struct {
	users    []samltest.User
	cfg      func(*saml.Config)
	opts     []saml.Option
	recorder bool
	existing []signin.User
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{users: signin.NewMemStore(), links: sso.NewMemLinks(), events: &recorder{}, clock: &clock{}, rec: &errResponder{}}
	for _, u := range o.existing {
		u, err := u.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.users.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	users := o.users
	if users == nil {
		users = []samltest.User{officer}
	}
	var err error
	e.idp, err = samltest.New(users...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.idp.Close)
	md, err := e.idp.Metadata()
	if err != nil {
		t.Fatal(err)
	}

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
	svc, err := sso.New(e.users, e.links, e.sessions, []sso.Provider{{
		Name: "adfs", EmailDomains: []string{"lakeview.ca"},
		JIT:      &sso.JIT{Domains: []string{"lakeview.ca"}, Department: "bylaw"},
		Mappings: []sso.Mapping{{Group: "bylaw", Role: "bylaw-officer", Scope: sso.UserDepartment}},
	}}, sso.WithAssigner(iam.NewAdmin(e.authz, store)), sso.WithEvents(e.events))
	if err != nil {
		t.Fatal(err)
	}
	cfg := saml.Config{Provider: "adfs", EntityID: e.srv.URL + "/saml/metadata", ACSURL: e.srv.URL + "/saml/acs",
		IdPMetadata: md, EmailVerified: true}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	opts := []saml.Option{saml.WithClock(e.clock.now)}
	if o.recorder {
		opts = append(opts, saml.WithResponder(e.rec))
	}
	e.cfg, e.svc, e.spOpts = cfg, svc, append(opts, o.opts...)
	e.sp, err = saml.New(cfg, svc, e.spOpts...)
	if err != nil {
		t.Fatal(err)
	}
	spmd, err := e.sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.idp.AddServiceProvider("city", spmd); err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("GET /saml/metadata", e.sp.MetadataHandler)
	mux.HandleFunc("GET /saml/login", e.sp.Begin)
	e.acs = e.sp.ACS
	mux.HandleFunc("POST /saml/acs", func(w http.ResponseWriter, r *http.Request) { e.acs(w, r) })
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
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

func (e *env) nothingCreated(t *testing.T) {
	t.Helper()
	if n := e.links.Count(); n != 0 {
		t.Errorf("%d links created", n)
	}
	if n := e.sessions.count(); n != 0 {
		t.Errorf("%d sessions created", n)
	}
	if _, err := e.users.UserByEmail(context.Background(), officer.Email); err == nil {
		t.Error("user created")
	}
	if e.events.count("sso.refused") == 0 {
		t.Error("no sso.refused event")
	}
}
