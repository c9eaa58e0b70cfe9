package iamhttp_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type clock struct{ ns atomic.Int64 }

func newClock() *clock                   { c := &clock{}; c.ns.Store(t0.UnixNano()); return c }
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// source is a policy source that can be cut off.
type source struct {
	mem  *memstore.Store
	mu   sync.Mutex
	down bool
}

func (s *source) LoadPolicy(ctx context.Context) (rbac.Model, int64, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return rbac.Model{}, 0, errors.New("connection refused")
	}
	return s.mem.LoadPolicy(ctx)
}

func (s *source) Apply(ctx context.Context, c rbac.Change) (int64, error) { return s.mem.Apply(ctx, c) }

func (s *source) cut() { s.mu.Lock(); s.down = true; s.mu.Unlock() }

func cityModel() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:building"}, {Scope: "dept:finance"}, {Scope: "ward:7", Parent: "dept:building"}},
		Roles: []rbac.Role{
			{ID: "permit-clerk", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "cbo", Permissions: []rbac.Permission{"permits.application.read", "permits.application.approve"}},
			{ID: "payer", Permissions: []rbac.Permission{"finance.ap.payment.release", "finance.ap.invoice.read"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:alice", Role: "permit-clerk", Scope: "dept:building"},
			{Subject: "user:carol", Role: "cbo", Scope: "dept:building"},
			{Subject: "user:bob", Role: "payer", Scope: "dept:finance"},
			{Subject: "svc:permits-sync", Role: "cbo", Scope: "dept:building"},
			{Subject: "svc:payer-bot", Role: "payer", Scope: "dept:finance"},
		},
	}
}

type fixture struct {
	t        testing.TB
	ctx      context.Context
	clk      *clock
	src      *source
	authz    *iam.Authorizer
	sessions *session.Manager
	keys     *apikey.Manager
	mw       *iamhttp.Middleware
	logs     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return string(s.b) }

func newFixture(t testing.TB, opts ...iamhttp.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := newClock()
	mem, err := memstore.New(cityModel())
	if err != nil {
		t.Fatal(err)
	}
	src := &source{mem: mem}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	authz, err := iam.New(ctx, src, iam.WithClock(clk.now), iam.WithLogger(quiet),
		iam.WithMaxStaleness(time.Hour), iam.WithMFARequired("finance.ap.payment.release"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { authz.Close() })
	key, err := session.GenerateKey(session.ES256, "k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := session.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := session.New(session.NewMemoryStore(), ring, session.WithClock(clk.now), session.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sessions.Close() })
	hk := make([]byte, 32)
	_, _ = rand.Read(hk)
	keys, err := apikey.New(apikey.NewMemoryStore(), authz, hk, apikey.WithClock(clk.now), apikey.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	logs := &syncBuffer{}
	all := append([]iamhttp.Option{iamhttp.WithSessions(sessions), iamhttp.WithAPIKeys(keys),
		iamhttp.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), iamhttp.WithClock(clk.now)}, opts...)
	mw, err := iamhttp.New(authz, all...)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, clk: clk, src: src, authz: authz, sessions: sessions, keys: keys, mw: mw, logs: logs}
}

// token signs sub in with one factor (mfa false) or two.
func (f *fixture) token(sub string, mfa bool) string {
	f.t.Helper()
	st := session.Start{Subject: sub, Method: session.MethodPassword}
	if mfa {
		st.MFA = session.MFAPending
	}
	_, tok, err := f.sessions.Create(f.ctx, st)
	if err != nil {
		f.t.Fatal(err)
	}
	if mfa {
		if _, tok, err = f.sessions.CompleteMFA(f.ctx, tok, session.MethodTOTP); err != nil {
			f.t.Fatal(err)
		}
	}
	return tok
}

// apiKey creates a service account and a key for it.
func (f *fixture) apiKey(account string, n apikey.Narrowing) string {
	f.t.Helper()
	if _, err := f.keys.Account(f.ctx, account); err != nil {
		if _, err := f.keys.CreateAccount(f.ctx, apikey.Account{ID: account, Owner: "user:carol", Department: "dept:building"}); err != nil {
			f.t.Fatal(err)
		}
	}
	c, err := f.keys.CreateKey(f.ctx, account, apikey.KeySpec{Name: "test", Narrowing: n})
	if err != nil {
		f.t.Fatal(err)
	}
	return c.Secret
}

// ran counts handler runs.
type ran struct{ n atomic.Int32 }

func (h *ran) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.n.Add(1)
	c, _ := iamhttp.Principal(r.Context())
	w.Header().Set("X-Subject", string(c.Subject))
	w.WriteHeader(http.StatusNoContent)
}

func (f *fixture) serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.mw.Authenticate(h).ServeHTTP(w, r)
	return w
}
