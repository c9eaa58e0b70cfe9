package apikey_test

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/apikey"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// clock is a settable clock shared by the Authorizer and the Manager.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func model() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:building"}, {Scope: "dept:finance"}, {Scope: "ward:7"}},
		Roles: []rbac.Role{
			{ID: "permit-reader", Permissions: []rbac.Permission{"permits.application.read", "permits.application.list"}},
			{ID: "permit-writer", Permissions: []rbac.Permission{"permits.application.create"}},
			{ID: "gl-poster", Permissions: []rbac.Permission{"finance.gl.journal.post"}},
		},
		Grants: []rbac.Grant{
			{Subject: "svc:permits-sync", Role: "permit-reader", Scope: "dept:building"},
			{Subject: "svc:permits-sync", Role: "permit-writer", Scope: "dept:building"},
			{Subject: "svc:gl-export", Role: "gl-poster", Scope: "dept:finance"},
		},
	}
}

type fixture struct {
	ctx   context.Context
	clk   *clock
	authz *iam.Authorizer
	admin *iam.Admin
	store *apikey.MemoryStore
	rec   *iamtest.Recorder
	m     *apikey.Manager
	key   []byte
}

func hashKey(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t testing.TB, opts ...apikey.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: t0}
	ps, err := memstore.New(model())
	if err != nil {
		t.Fatal(err)
	}
	authz, err := iam.New(ctx, ps, iam.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { authz.Close() })
	f := &fixture{ctx: ctx, clk: clk, authz: authz, admin: iam.NewAdmin(authz, ps), store: apikey.NewMemoryStore(), rec: &iamtest.Recorder{}, key: hashKey(t)}
	f.m = f.manager(t, opts...)
	for _, a := range []apikey.Account{
		{ID: "permits-sync", Owner: "user:alice", Department: "dept:building", Description: "permit portal sync"},
		{ID: "gl-export", Owner: "user:frank", Department: "dept:finance", Description: "nightly GL export"},
	} {
		if _, err := f.m.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// manager returns another Manager on the fixture's store and policy, as
// another process would have.
func (f *fixture) manager(t testing.TB, opts ...apikey.Option) *apikey.Manager {
	t.Helper()
	base := []apikey.Option{apikey.WithClock(f.clk.now), apikey.WithEventSink(f.rec), apikey.WithGrantRevoker(f.admin)}
	m, err := apikey.New(f.store, f.authz, f.key, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func (f *fixture) create(t testing.TB, account string, spec apikey.KeySpec) apikey.Created {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "test key"
	}
	c, err := f.m.CreateKey(f.ctx, account, spec)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return c
}

func (f *fixture) events(typ string) []iam.Event {
	var out []iam.Event
	for _, e := range f.rec.Events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

type atomicInt64 = atomic.Int64
