package iam_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

var noon = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// city is a small policy exercising every feature of the engine.
func city() rbac.Model {
	return rbac.Model{
		Permissions: []rbac.Permission{"permits.inspection.schedule", "crm.citizen.sin.view", "crm.citizen.email.view"},
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:building"}, {Scope: "dept:finance"},
			{Scope: "facility:city-hall", Parent: "dept:building"},
			{Scope: "ward:7"}, {Scope: "ward:3"},
		},
		Roles: []rbac.Role{
			{ID: "base-user", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "permit-clerk", Inherits: []rbac.RoleID{"base-user"}, Permissions: []rbac.Permission{"permits.application.create"}},
			{ID: "cbo", Inherits: []rbac.RoleID{"permit-clerk"}, Permissions: []rbac.Permission{"permits.*"}},
			{ID: "privacy-officer", Permissions: []rbac.Permission{"crm.citizen.*"}, Deny: []rbac.Permission{"crm.citizen.sin.view"}},
			{ID: "ap-clerk", Permissions: []rbac.Permission{"finance.ap.invoice.create"}},
			{ID: "gl-clerk", Permissions: []rbac.Permission{"finance.gl.journal.post"}},
			{ID: "finance-manager", Composite: true, Inherits: []rbac.RoleID{"ap-clerk", "gl-clerk"}},
			{ID: "clerk", Permissions: []rbac.Permission{"bylaw.case.read"}},
		},
		Members: []rbac.Membership{{Member: "user:bob", Group: "group:permit-desk"}},
		Grants: []rbac.Grant{
			{Subject: "user:alice", Role: "permit-clerk", Scope: "ward:7"},
			{Subject: "group:permit-desk", Role: "permit-clerk", Scope: "dept:building"},
			{Subject: "user:carol", Role: "cbo", Scope: "org", NotBefore: noon.Add(-time.Hour), NotAfter: noon.Add(time.Hour)},
			{Subject: "user:dave", Role: "cbo", Scope: "dept:building", NotAfter: noon.Add(-time.Minute)},
			{Subject: "user:erin", Role: "privacy-officer", Scope: "org"},
			{Subject: "user:erin", Role: "cbo", Scope: "org"},
			{Subject: "user:frank", Role: "finance-manager", Scope: "dept:finance"},
		},
	}
}

func newAuthz(t *testing.T, m rbac.Model, opts ...iam.Option) (*iam.Authorizer, *iamtest.Store) {
	t.Helper()
	store := iamtest.NewStore(m)
	a, err := iam.New(context.Background(), store, append([]iam.Option{iam.WithClock(iamtest.Clock(noon))}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a, store
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		sub   iam.Subject
		perm  iam.Permission
		scope iam.Scope
		want  bool
	}{
		{"direct grant at scope", "user:alice", "permits.application.create", "ward:7", true},
		{"inherited from parent role", "user:alice", "permits.application.read", "ward:7", true},
		{"grant at other scope", "user:alice", "permits.application.create", "ward:3", false},
		{"ward grant does not cover org", "user:alice", "permits.application.create", "org", false},
		{"through a group", "user:bob", "permits.application.create", "dept:building", true},
		{"dept grant covers its facility", "user:bob", "permits.application.read", "facility:city-hall", true},
		{"dept grant does not cover a ward", "user:bob", "permits.application.read", "ward:7", false},
		{"wildcard rule", "user:carol", "permits.inspection.schedule", "ward:3", true},
		{"org grant covers undeclared scope", "user:carol", "permits.application.approve", "ward:99", true},
		{"wildcard does not cross modules", "user:carol", "bylaw.case.read", "org", false},
		{"expired acting grant", "user:dave", "permits.application.read", "dept:building", false},
		{"field-level wildcard", "user:erin", "crm.citizen.email.view", "ward:3", true},
		{"deny beats allow from another role", "user:erin", "crm.citizen.sin.view", "org", false},
		{"composite role, first module", "user:frank", "finance.ap.invoice.create", "dept:finance", true},
		{"composite role, second module", "user:frank", "finance.gl.journal.post", "dept:finance", true},
		{"missing permission", "user:alice", "permits.application.approve", "ward:7", false},
		{"wildcard covers an uncatalogued permission", "user:carol", "permits.nothing.here", "org", true},
		{"unknown permission", "user:carol", "parks.bench.paint", "org", false},
		{"unknown subject", "user:zed", "permits.application.read", "org", false},
		{"subject named like a role gets nothing", "user:clerk", "bylaw.case.read", "org", false},
		{"group itself", "group:permit-desk", "permits.application.create", "dept:building", true},
	}
	a, _ := newAuthz(t, city())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := a.Check(context.Background(), tt.sub, tt.perm, tt.scope)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if d.Allowed != tt.want {
				t.Errorf("Allowed = %v, want %v (reason %q)", d.Allowed, tt.want, d.Reason)
			}
			if d.Revision != 1 {
				t.Errorf("Revision = %d, want 1", d.Revision)
			}
			if d.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

func TestCheckBadInput(t *testing.T) {
	t.Parallel()
	a, _ := newAuthz(t, city())
	long := strings.Repeat("a", 10<<10)
	tests := []struct {
		name  string
		sub   iam.Subject
		perm  iam.Permission
		scope iam.Scope
	}{
		{"empty permission", "user:carol", "", "org"},
		{"double dot", "user:carol", "permits..approve", "org"},
		{"upper case", "user:carol", "Permits.application.approve", "org"},
		{"trailing dot", "user:carol", "permits.application.", "org"},
		{"10 KB permission", "user:carol", iam.Permission(long + ".x.y"), "org"},
		{"NUL", "user:carol", "permits.application.approve\x00", "org"},
		{"Cyrillic look-alike", "user:carol", "permits.аpplication.approve", "org"},
		{"comma", "user:carol", "permits.application.approve,x", "org"},
		{"wildcard in request", "user:carol", "permits.*", "org"},
		{"unknown scope kind", "user:carol", "permits.application.approve", "region:north"},
		{"empty scope", "user:carol", "permits.application.approve", ""},
		{"scope with newline", "user:carol", "permits.application.approve", "ward:7\n"},
		{"empty subject", "", "permits.application.approve", "org"},
		{"subject without kind", "carol", "permits.application.approve", "org"},
		{"role as subject", "role:cbo", "permits.application.approve", "org"},
		{"subject with comma", "user:a,b", "permits.application.approve", "org"},
		{"10 KB subject", iam.Subject("user:" + long), "permits.application.approve", "org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := a.Check(context.Background(), tt.sub, tt.perm, tt.scope)
			if !errors.Is(err, iam.ErrInvalidInput) {
				t.Fatalf("err = %v, want ErrInvalidInput", err)
			}
			var ie *rbac.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %T, want *rbac.InvalidError in chain", err)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error message is %d bytes; hostile input must be truncated", len(err.Error()))
			}
			if d.Allowed {
				t.Error("malformed input allowed")
			}
			if err := a.Require(context.Background(), tt.sub, tt.perm, tt.scope); err == nil || errors.Is(err, iam.ErrDenied) {
				t.Errorf("Require = %v, want an input error", err)
			}
		})
	}
}

func TestNewRefusesInvalidPolicy(t *testing.T) {
	t.Parallel()
	withRoles := func(roles ...rbac.Role) rbac.Model { return rbac.Model{Roles: roles} }
	tests := []struct {
		name string
		m    rbac.Model
		want error
	}{
		{"role cycle", withRoles(
			rbac.Role{ID: "a", Inherits: []rbac.RoleID{"b"}},
			rbac.Role{ID: "b", Inherits: []rbac.RoleID{"c"}},
			rbac.Role{ID: "c", Inherits: []rbac.RoleID{"a"}}), &rbac.CycleError{}},
		{"self inheritance", withRoles(rbac.Role{ID: "a", Inherits: []rbac.RoleID{"a"}}), &rbac.CycleError{}},
		{"inherits missing role", withRoles(rbac.Role{ID: "a", Inherits: []rbac.RoleID{"ghost"}}), nil},
		{"grant of missing role", rbac.Model{Grants: []rbac.Grant{{Subject: "user:a", Role: "ghost", Scope: "org"}}}, nil},
		{"valid_until before valid_from", rbac.Model{Roles: []rbac.Role{{ID: "r"}}, Grants: []rbac.Grant{
			{Subject: "user:a", Role: "r", Scope: "org", NotBefore: noon, NotAfter: noon.Add(-time.Second)}}}, nil},
		{"role id with comma", withRoles(rbac.Role{ID: "a,b"}), nil},
		{"role id with newline", withRoles(rbac.Role{ID: "a\nb"}), nil},
		{"rule with bad permission", withRoles(rbac.Role{ID: "a", Permissions: []rbac.Permission{"Permits.X.y"}}), nil},
		{"scope declared under unknown parent", rbac.Model{Scopes: []rbac.ScopeNode{{Scope: "facility:x", Parent: "dept:ghost"}}}, nil},
		{"membership of a user in a user", rbac.Model{Members: []rbac.Membership{{Member: "user:a", Group: "user:b"}}}, nil},
		{"duplicate grant", rbac.Model{Roles: []rbac.Role{{ID: "r"}}, Grants: []rbac.Grant{
			{Subject: "user:a", Role: "r", Scope: "org"}, {Subject: "user:a", Role: "r", Scope: "org"}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := iam.New(context.Background(), iamtest.NewStore(tt.m))
			if !errors.Is(err, iam.ErrInvalidInput) {
				t.Fatalf("New err = %v, want ErrInvalidInput", err)
			}
			if ce, ok := tt.want.(*rbac.CycleError); ok {
				if !errors.As(err, &ce) || len(ce.Path) < 2 || ce.Path[0] != ce.Path[len(ce.Path)-1] {
					t.Fatalf("err = %v, want a CycleError naming the cycle", err)
				}
			}
		})
	}
}

// mutableClock is a clock a test can move.
type mutableClock struct{ ns atomic.Int64 }

func (c *mutableClock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *mutableClock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func newClock(t time.Time) *mutableClock { c := &mutableClock{}; c.set(t); return c }

func TestTemporaryGrantStopsAtTheInstant(t *testing.T) {
	t.Parallel()
	for _, cache := range []int{0, 100} {
		t.Run(fmt.Sprintf("cache=%d", cache), func(t *testing.T) {
			t.Parallel()
			clk := newClock(noon)
			a, _ := newAuthz(t, city(), iam.WithClock(clk.now), iam.WithSubjectCache(cache))
			check := func(at time.Time, want bool) {
				t.Helper()
				clk.set(at)
				d, err := a.Check(context.Background(), "user:carol", "permits.application.approve", "org")
				if err != nil || d.Allowed != want {
					t.Fatalf("at %v: %+v, %v; want allowed=%v", at, d, err, want)
				}
			}
			check(noon.Add(-time.Hour-time.Nanosecond), false) // not yet valid
			check(noon.Add(-time.Hour), true)                  // valid_from is inclusive
			check(noon, true)                                  // warm
			check(noon.Add(time.Hour-time.Nanosecond), true)
			check(noon.Add(time.Hour), false) // valid_until is exclusive; no job ran
			check(noon, true)                 // a clock moved back is honoured too
		})
	}
}

func TestRevokeOnWarmSubject(t *testing.T) {
	t.Parallel()
	a, _ := newAuthz(t, city())
	ctx := context.Background()
	for range 3 { // warm the cache
		if err := a.Require(ctx, "user:alice", "permits.application.create", "ward:7"); err != nil {
			t.Fatalf("before revoke: %v", err)
		}
	}
	rev, err := iam.AdminOf(a).Apply(ctx, rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:alice", Role: "permit-clerk", Scope: "ward:7"}}})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	d, err := a.Check(ctx, "user:alice", "permits.application.create", "ward:7")
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Revision != rev {
		t.Fatalf("after revoke: %+v, want deny at revision %d", d, rev)
	}
	err = a.Require(ctx, "user:alice", "permits.application.create", "ward:7")
	var de *iam.DeniedError
	if !errors.Is(err, iam.ErrDenied) || !errors.As(err, &de) || de.Subject != "user:alice" {
		t.Fatalf("Require = %v, want *DeniedError", err)
	}
}

func TestApplyRefusesBadChangeAndWritesNothing(t *testing.T) {
	t.Parallel()
	a, store := newAuthz(t, city())
	ctx := context.Background()
	bad := []rbac.Change{
		{Grant: []rbac.Grant{{Subject: "user:x", Role: "ghost", Scope: "org"}}},
		{Grant: []rbac.Grant{{Subject: "user:x,y", Role: "clerk", Scope: "org"}}},
		{Grant: []rbac.Grant{{Subject: "user:x", Role: "clerk", Scope: "ward:1'; DROP TABLE casbin_rule;--"}}},
		{Grant: []rbac.Grant{{Subject: "user:x", Role: "clerk", Scope: "org", NotBefore: noon, NotAfter: noon.Add(-1)}}},
		{Revoke: []rbac.GrantKey{{Subject: "user:nobody", Role: "clerk", Scope: "org"}}},
		{PutRoles: []rbac.Role{{ID: "base-user", Inherits: []rbac.RoleID{"cbo"}}}}, // creates a cycle
	}
	for i, c := range bad {
		if _, err := iam.AdminOf(a).Apply(ctx, c); !errors.Is(err, iam.ErrInvalidInput) && !errors.Is(err, iam.ErrNotFound) {
			t.Errorf("change %d: err = %v, want ErrInvalidInput or ErrNotFound", i, err)
		}
	}
	if _, rev, _ := store.LoadPolicy(ctx); rev != 1 || a.Revision() != 1 {
		t.Errorf("revision moved to %d/%d after refused changes", rev, a.Revision())
	}
}

// flakySource serves a good policy, then whatever it is told to.
type flakySource struct {
	mu  sync.Mutex
	m   rbac.Model
	rev int64
	err error
}

func (s *flakySource) LoadPolicy(context.Context) (rbac.Model, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m, s.rev, s.err
}

func (s *flakySource) set(m rbac.Model, rev int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m, s.rev, s.err = m, rev, err
}

func TestReloadFailureKeepsPreviousSnapshot(t *testing.T) {
	t.Parallel()
	src := &flakySource{m: city(), rev: 5}
	a, err := iam.New(context.Background(), src, iam.WithClock(iamtest.Clock(noon)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()

	cyclic := city()
	cyclic.Roles[0].Inherits = []rbac.RoleID{"cbo"}
	src.set(cyclic, 6, nil)
	if err := a.Reload(ctx); !errors.Is(err, iam.ErrInvalidInput) {
		t.Fatalf("Reload of invalid policy: %v", err)
	}
	src.set(rbac.Model{}, 7, errors.New("connection refused"))
	if err := a.Reload(ctx); err == nil {
		t.Fatal("Reload with unreadable store succeeded")
	}
	d, err := a.Check(ctx, "user:alice", "permits.application.create", "ward:7")
	if err != nil || !d.Allowed || d.Revision != 5 {
		t.Fatalf("after failed reloads: %+v, %v; want allow at revision 5", d, err)
	}
}

func TestNewFailsOnUnreadableStore(t *testing.T) {
	t.Parallel()
	src := &flakySource{err: errors.New("connection refused")}
	if _, err := iam.New(context.Background(), src); err == nil {
		t.Fatal("New succeeded with an unreadable store")
	}
	if _, err := iam.New(context.Background(), nil); err == nil {
		t.Fatal("New succeeded with a nil store")
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	a, _ := newAuthz(t, city())
	a.Close()
	a.Close() // idempotent
	d, err := a.Check(context.Background(), "user:alice", "permits.application.create", "ward:7")
	if !errors.Is(err, iam.ErrClosed) || d.Allowed {
		t.Fatalf("Check after Close = %+v, %v", d, err)
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	a, _ := newAuthz(t, city())
	ctx := context.Background()
	ex, err := a.Explain(ctx, "user:bob", "permits.application.read", "facility:city-hall")
	if err != nil {
		t.Fatal(err)
	}
	want := "user:bob → group:permit-desk → grant permit-clerk at dept:building → role:permit-clerk → role:base-user → allow permits.application.read"
	if !ex.Allowed || ex.Decisive.String() != want {
		t.Fatalf("Explain = %v\nwant path %s", ex, want)
	}
	ex, err = a.Explain(ctx, "user:erin", "crm.citizen.sin.view", "ward:7")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Allowed || !strings.HasSuffix(ex.Decisive.String(), "deny crm.citizen.sin.view") {
		t.Fatalf("Explain deny = %v", ex)
	}
	ex, err = a.Explain(ctx, "user:alice", "permits.application.approve", "ward:7")
	if err != nil || ex.Allowed || len(ex.Decisive) != 0 {
		t.Fatalf("Explain no-grant = %v, %v", ex, err)
	}
}

func TestWhoCanAndPermissions(t *testing.T) {
	t.Parallel()
	a, _ := newAuthz(t, city())
	ctx := context.Background()
	acc, err := a.WhoCan(ctx, "crm.citizen.email.view", "ward:7")
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.Roles) != 1 || acc.Roles[0].Role != "privacy-officer" {
		t.Errorf("roles = %+v", acc.Roles)
	}
	if len(acc.Subjects) != 1 || acc.Subjects[0].Subject != "user:erin" {
		t.Errorf("subjects = %+v", acc.Subjects)
	}
	acc, err = a.WhoCan(ctx, "crm.citizen.sin.view", "org")
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.Subjects) != 0 || len(acc.Roles) != 1 || !acc.Roles[0].Denied {
		t.Errorf("sin.view: %+v", acc)
	}
	acc, err = a.WhoCan(ctx, "permits.application.create", "facility:city-hall")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range acc.Subjects {
		got = append(got, string(h.Subject))
	}
	if strings.Join(got, ",") != "group:permit-desk,user:bob,user:carol,user:erin" {
		t.Errorf("holders = %v", got)
	}

	ps, err := a.Permissions(ctx, "user:alice", "ward:7")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ps) != "[permits.application.create permits.application.read]" {
		t.Errorf("Permissions = %v", ps)
	}
	if _, err := a.Permissions(ctx, "user:alice", "planet:mars"); !errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("Permissions at bad scope: %v", err)
	}
}

func TestCheckMany(t *testing.T) {
	t.Parallel()
	a, _ := newAuthz(t, city())
	ds, err := a.CheckMany(context.Background(), []iam.Request{
		{Subject: "user:alice", Permission: "permits.application.create", Scope: "ward:7"},
		{Subject: "user:alice", Permission: "permits.*", Scope: "ward:7"},
		{Subject: "user:alice", Permission: "permits.application.create", Scope: "ward:3"},
	})
	if len(ds) != 3 || !ds[0].Allowed || ds[1].Allowed || ds[2].Allowed {
		t.Fatalf("decisions = %+v", ds)
	}
	if !errors.Is(err, iam.ErrInvalidInput) || !strings.Contains(err.Error(), "request 1") {
		t.Fatalf("err = %v, want request 1 invalid", err)
	}
}

// TestChecksDuringReloads runs checks while the policy flips; each decision
// must match the revision it reports.
func TestChecksDuringReloads(t *testing.T) {
	t.Parallel()
	a, _ := newAuthz(t, city())
	ctx := context.Background()
	grant := rbac.Grant{Subject: "user:zoe", Role: "clerk", Scope: "ward:3"}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bad atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, err := a.Check(ctx, "user:zoe", "bylaw.case.read", "ward:3")
				if err != nil {
					bad.Add(1)
					return
				}
				// Even revisions hold the grant, odd ones do not.
				if d.Allowed != (d.Revision%2 == 0) {
					bad.Add(1)
				}
			}
		}()
	}
	for i := range 40 {
		c := rbac.Change{Grant: []rbac.Grant{grant}}
		if i%2 == 1 {
			c = rbac.Change{Revoke: []rbac.GrantKey{grant.Key()}}
		}
		if _, err := iam.AdminOf(a).Apply(ctx, c); err != nil {
			t.Fatalf("Apply %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Fatalf("%d decisions disagreed with their revision", n)
	}
}

func TestNotifierTriggersReload(t *testing.T) {
	t.Parallel()
	src := &flakySource{m: city(), rev: 1}
	changed := make(chan func(), 1)
	n := iam.NotifierFunc(func(ctx context.Context, f func()) error {
		changed <- f
		<-ctx.Done()
		return nil
	})
	a, err := iam.New(context.Background(), src, iam.WithNotifier(n), iam.WithClock(iamtest.Clock(noon)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m := city()
	m.Grants = m.Grants[1:] // alice loses her grant
	src.set(m, 2, nil)
	f := <-changed
	for range 100 {
		f() // a burst coalesces
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.Revision() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("notifier did not trigger a reload")
		}
		time.Sleep(time.Millisecond)
	}
	if d, _ := a.Check(context.Background(), "user:alice", "permits.application.create", "ward:7"); d.Allowed {
		t.Fatal("still allowed after reload")
	}
}

func TestEmergencyAccess(t *testing.T) {
	t.Parallel()
	m := city()
	m.Roles = append(m.Roles, rbac.Role{ID: "emergency-ops", Emergency: true, Composite: true, Inherits: []rbac.RoleID{"cbo", "finance-manager"}})
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:eoc", Role: "emergency-ops", Scope: "org",
		NotBefore: noon.Add(-time.Hour), NotAfter: noon.Add(23 * time.Hour), Reason: "flood"})
	rec := &iamtest.Recorder{}
	clk := newClock(noon)
	a, _ := newAuthz(t, m, iam.WithAuditSink(rec), iam.WithClock(clk.now))
	ctx := context.Background()

	d, err := a.Check(ctx, "user:eoc", "finance.ap.invoice.create", "dept:finance")
	if err != nil || !d.Allowed {
		t.Fatalf("under emergency: %+v, %v", d, err)
	}
	if _, err := a.Check(ctx, "user:alice", "permits.application.create", "ward:7"); err != nil {
		t.Fatal(err)
	}
	evs := rec.Events()
	if len(evs) != 1 || evs[0].Type != iam.EventEmergency || evs[0].Subject != "user:eoc" || evs[0].ID == "" ||
		evs[0].Detail["permission"] != "finance.ap.invoice.create" ||
		!strings.Contains(evs[0].Detail["path"], "role:emergency-ops → role:finance-manager") {
		t.Fatalf("events = %+v", evs)
	}
	clk.set(noon.Add(23 * time.Hour)) // the window ends by itself
	if d, _ := a.Check(ctx, "user:eoc", "finance.ap.invoice.create", "dept:finance"); d.Allowed {
		t.Fatal("emergency access outlived its window")
	}

	for _, w := range []struct{ from, until time.Time }{
		{noon, noon.Add(25 * time.Hour)}, // over 24 h
		{time.Time{}, noon.Add(time.Hour)},
		{noon, time.Time{}},
	} {
		_, err := iam.AdminOf(a).Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:x", Role: "emergency-ops", Scope: "org", NotBefore: w.from, NotAfter: w.until}}})
		if !errors.Is(err, iam.ErrInvalidInput) {
			t.Errorf("emergency window %v..%v: err = %v", w.from, w.until, err)
		}
	}
}

func TestApplyEmitsOneEventPerChangePart(t *testing.T) {
	t.Parallel()
	rec := &iamtest.Recorder{}
	a, _ := newAuthz(t, city(), iam.WithAuditSink(rec))
	rev, err := iam.AdminOf(a).Apply(context.Background(), rbac.Change{
		Grant:  []rbac.Grant{{Subject: "user:zoe", Role: "clerk", Scope: "ward:3", NotAfter: noon.Add(time.Hour), Reason: "acting"}},
		Revoke: []rbac.GrantKey{{Subject: "user:alice", Role: "permit-clerk", Scope: "ward:7"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	evs := rec.Events()
	if len(evs) != 2 || evs[0].Type != iam.EventRoleAssigned || evs[1].Type != iam.EventRoleRevoked {
		t.Fatalf("events = %+v", evs)
	}
	for _, e := range evs {
		if e.Revision != rev || e.ID == "" || e.Version != 1 || e.Time.IsZero() {
			t.Errorf("incomplete event %+v", e)
		}
	}
	if evs[0].Detail["reason"] != "acting" || evs[0].Detail["valid_until"] == "" {
		t.Errorf("assigned detail = %v", evs[0].Detail)
	}
}
