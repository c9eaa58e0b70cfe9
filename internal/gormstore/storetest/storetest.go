package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	casbin "github.com/casbin/casbin/v3"
	gormadapter "github.com/casbin/gorm-adapter/v3"
	"gorm.io/gorm"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/casbinx/rowgen"
	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/internal/instant"
	"github.com/civic-platform/security/rbac"
)

// Store is what every policy store offers.
type Store interface {
	LoadPolicy(ctx context.Context) (rbac.Model, int64, error)
	LoadCompiled(ctx context.Context, after int64) (rbac.Model, *rbac.Policy, int64, error)
	Apply(ctx context.Context, c rbac.Change) (int64, error)
	Replace(ctx context.Context, m rbac.Model) (int64, error)
}

// Fixture is one store under test.
type Fixture struct {
	Store Store
	// DB is the database of a SQL store, or nil. With it the suite counts
	// rows, loads them with a plain gorm-adapter enforcer and corrupts them.
	DB *gorm.DB
	// Second, if set, is another Store on the same database through its own
	// connection pool, standing in for another process.
	Second Store
}

// Harness describes a store to [Run].
type Harness struct {
	// New returns an empty, ready (migrated) store of its own.
	New func(t *testing.T) Fixture
	// Unmigrated, if set, returns a store made by the package's New on an
	// empty database, and that database.
	Unmigrated func(t *testing.T) (Store, *gorm.DB)
	// Migrate is the package's Migrate (SQL stores).
	Migrate func(ctx context.Context, db *gorm.DB) error
	// KeepsText reports whether role labels and grant reasons survive.
	KeepsText bool
	// StoresConflicts reports whether conflict rules and waivers can be
	// stored. A store that cannot must refuse them (rbac.ErrInvalidInput and
	// errors.ErrUnsupported), not drop them.
	StoresConflicts bool
	// MaxValueLen is the longest stored value, or 0 for no limit.
	MaxValueLen int
}

// Noon is the instant the fixture's windows are built around.
var Noon = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// CityModel is a small model with everything the line format carries:
// a permission catalog, a scope tree, inheritance, a composite role, deny
// rules, wildcards, memberships in groups and units, and grants with open,
// half-open and closed windows. It also has role labels and grant reasons,
// which the SQL stores keep in the extras document.
func CityModel() rbac.Model {
	return rbac.Model{
		Permissions: []rbac.Permission{"permits.application.delete", "crm.citizen.email.view", "finance.invoice.pay"},
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:building"},
			{Scope: "facility:hall-1", Parent: "dept:building"},
			{Scope: "ward:7", Parent: "org"},
			{Scope: "dept:finance"},
		},
		Roles: []rbac.Role{
			{ID: "permit-reader", Labels: map[string]string{"en": "Permit reader", "fr": "Lecteur de permis"},
				Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "clerk", Inherits: []rbac.RoleID{"permit-reader"},
				Permissions: []rbac.Permission{"permits.*", "crm.citizen.read"},
				Deny:        []rbac.Permission{"permits.application.approve", "permits.application.delete"}},
			{ID: "cbo", Inherits: []rbac.RoleID{"clerk"}, Permissions: []rbac.Permission{"permits.application.approve"}},
			{ID: "ap", Permissions: []rbac.Permission{"finance.invoice.*"}, Deny: []rbac.Permission{"finance.invoice.pay"}},
			{ID: "ar", Permissions: []rbac.Permission{"finance.receipt.create", "finance.receipt.read"}},
			{ID: "finance-manager", Composite: true, Inherits: []rbac.RoleID{"ap", "ar"},
				Permissions: []rbac.Permission{"finance.budget.approve"}},
			{ID: "privacy", Permissions: []rbac.Permission{"crm.citizen.*"}, Deny: []rbac.Permission{"crm.citizen.sin.*"}},
		},
		Members: []rbac.Membership{
			{Member: "user:bob", Group: "group:clerks"},
			{Member: "user:dana", Group: "group:clerks"},
			{Member: "svc:permits-api", Group: "unit:it"},
		},
		Grants: []rbac.Grant{
			{Subject: "group:clerks", Role: "clerk", Scope: "dept:building", Reason: "building counter"},
			{Subject: "user:alice", Role: "cbo", Scope: "facility:hall-1", NotBefore: Noon.Add(-time.Hour), NotAfter: Noon.Add(time.Hour), Reason: "acting CBO"},
			{Subject: "user:carol", Role: "finance-manager", Scope: "org", NotAfter: Noon.Add(24 * time.Hour)},
			{Subject: "user:erin", Role: "privacy", Scope: "ward:7", NotBefore: Noon.Add(2 * time.Hour)},
			{Subject: "unit:it", Role: "permit-reader", Scope: "org"},
			{Subject: "user:bob", Role: "ap", Scope: "dept:finance"},
		},
	}
}

// Normalize puts m in a canonical form for comparison: everything sorted,
// empty slices nil, parents of top-level scopes spelled org, times in UTC,
// and (unless keepText) labels and reasons dropped.
func Normalize(m rbac.Model, keepText bool) rbac.Model {
	m = m.Clone()
	sorted := func(s []rbac.Permission) []rbac.Permission {
		if len(s) == 0 {
			return nil
		}
		slices.Sort(s)
		return s
	}
	m.Permissions = sorted(m.Permissions)
	for i := range m.Scopes {
		if m.Scopes[i].Parent == "" {
			m.Scopes[i].Parent = rbac.OrgScope
		}
	}
	slices.SortFunc(m.Scopes, func(a, b rbac.ScopeNode) int { return cmp.Compare(a.Scope, b.Scope) })
	for i := range m.Roles {
		r := &m.Roles[i]
		r.Permissions, r.Deny = sorted(r.Permissions), sorted(r.Deny)
		if len(r.Inherits) == 0 {
			r.Inherits = nil
		}
		slices.Sort(r.Inherits)
		if !keepText || len(r.Labels) == 0 {
			r.Labels = nil
		}
	}
	slices.SortFunc(m.Roles, func(a, b rbac.Role) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(m.Members, func(a, b rbac.Membership) int {
		return cmp.Or(cmp.Compare(a.Member, b.Member), cmp.Compare(a.Group, b.Group))
	})
	utc := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return time.Unix(0, t.UnixNano()).UTC()
	}
	for i := range m.Grants {
		g := &m.Grants[i]
		g.NotBefore, g.NotAfter = utc(g.NotBefore), utc(g.NotAfter)
		if !keepText {
			g.Reason = ""
		}
	}
	slices.SortFunc(m.Grants, func(a, b rbac.Grant) int { return strings.Compare(a.Key().String(), b.Key().String()) })
	for i := range m.Conflicts {
		if !keepText {
			m.Conflicts[i].Description = ""
		}
	}
	slices.SortFunc(m.Conflicts, func(a, b rbac.ConflictRule) int { return cmp.Compare(a.ID, b.ID) })
	for i := range m.Waivers {
		w := &m.Waivers[i]
		w.NotAfter = utc(w.NotAfter)
		if !keepText {
			w.Reason = ""
		}
	}
	slices.SortFunc(m.Waivers, func(a, b rbac.Waiver) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Subject, b.Subject))
	})
	for _, p := range []any{&m.Scopes, &m.Roles, &m.Members, &m.Grants, &m.Conflicts, &m.Waivers} {
		v := reflect.ValueOf(p).Elem()
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
	}
	return m
}

// Equal reports a test error if got and want differ after [Normalize].
func Equal(t testing.TB, got, want rbac.Model, keepText bool) {
	t.Helper()
	g, w := Normalize(got, keepText), Normalize(want, keepText)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("models differ:\n got  %+v\n want %+v", g, w)
	}
}

// Agree reports a test error unless allows answers like the compiled m on
// a grid of requests covering every subject, scope and window of
// [CityModel].
func Agree(t testing.TB, m rbac.Model, allows func(rbac.Subject, rbac.Permission, rbac.Scope, time.Time) (bool, error)) {
	t.Helper()
	p, err := rbac.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	subjects := []rbac.Subject{"user:alice", "user:bob", "user:carol", "user:dana", "user:erin", "svc:permits-api", "group:clerks", "unit:it", "user:nobody"}
	perms := []rbac.Permission{"permits.application.read", "permits.application.approve", "permits.application.delete",
		"permits.inspection.schedule", "crm.citizen.read", "crm.citizen.sin.view", "crm.citizen.email.view",
		"finance.invoice.create", "finance.invoice.pay", "finance.receipt.read", "finance.budget.approve", "parks.bench.paint"}
	scopes := []rbac.Scope{"org", "dept:building", "facility:hall-1", "ward:7", "dept:finance", "ward:8"}
	times := []time.Time{Noon, Noon.Add(-2 * time.Hour), Noon.Add(3 * time.Hour), Noon.Add(48 * time.Hour)}
	allowed := 0
	for _, sub := range subjects {
		for _, x := range perms {
			for _, s := range scopes {
				for _, at := range times {
					got, err := allows(sub, x, s, at)
					if err != nil {
						t.Fatalf("%s %s %s: %v", sub, x, s, err)
					}
					if want := p.Allows(sub, x, s, at); got != want {
						t.Errorf("%s %s at %s, %s: got %v, compiled model says %v", sub, x, s, at.Format(time.RFC3339), got, want)
					}
					if got {
						allowed++
					}
				}
			}
		}
	}
	if allowed < 30 {
		t.Errorf("only %d requests allowed: the grid is too thin to compare", allowed)
	}
}

// Run runs the conformance suite against the store h describes.
func Run(t *testing.T, h Harness) {
	t.Run("FreshStoreIsEmpty", func(t *testing.T) { t.Parallel(); testFresh(t, h) })
	t.Run("RoundTrip", func(t *testing.T) { t.Parallel(); testRoundTrip(t, h) })
	t.Run("LoadCompiled", func(t *testing.T) { t.Parallel(); testLoadCompiled(t, h) })
	t.Run("ApplySequence", func(t *testing.T) { t.Parallel(); testApplySequence(t, h) })
	t.Run("Refused", func(t *testing.T) { t.Parallel(); testRefused(t, h) })
	t.Run("ReplaceRefused", func(t *testing.T) { t.Parallel(); testReplaceRefused(t, h) })
	t.Run("Concurrent", func(t *testing.T) { t.Parallel(); testConcurrent(t, h) })
	t.Run("ConcurrentConflicting", func(t *testing.T) { t.Parallel(); testConcurrentConflicting(t, h) })
	t.Run("ConflictRules", func(t *testing.T) { t.Parallel(); testConflictRules(t, h) })
	if h.StoresConflicts {
		t.Run("ConflictReplace", func(t *testing.T) { t.Parallel(); testConflictReplace(t, h) })
		t.Run("ReplaceViolationShapes", func(t *testing.T) { t.Parallel(); testReplaceShapes(t, h) })
	}
	t.Run("CanceledContext", func(t *testing.T) { t.Parallel(); testCanceled(t, h) })
	t.Run("ExpectedGrants", func(t *testing.T) { t.Parallel(); testExpectedGrants(t, h) })
	t.Run("GrantWriteRules", func(t *testing.T) { t.Parallel(); testGrantWriteRules(t, h) })
	t.Run("EmergencyReplace", func(t *testing.T) { t.Parallel(); testEmergencyReplace(t, h) })
	if h.MaxValueLen > 0 {
		t.Run("TooLongForColumns", func(t *testing.T) { t.Parallel(); testTooLong(t, h) })
	}
	t.Run("CasbinGormAdapterLoadsRows", func(t *testing.T) { t.Parallel(); testCasbin(t, h) })
	t.Run("CorruptRows", func(t *testing.T) { t.Parallel(); testCorrupt(t, h) })
	t.Run("Instants", func(t *testing.T) { t.Parallel(); testInstants(t, h) })
	t.Run("RowsWrittenByCasbin", func(t *testing.T) { t.Parallel(); testCasbinWrites(t, h) })
	if h.Unmigrated != nil {
		t.Run("Unmigrated", func(t *testing.T) { t.Parallel(); testUnmigrated(t, h) })
		t.Run("SchemaIsGormAdapters", func(t *testing.T) { t.Parallel(); testSchema(t, h) })
	}
}

// state is what "unchanged" compares: the model, the revision and the
// number of stored rows (-1 without a database).
type state struct {
	m    rbac.Model
	rev  int64
	rows int64
}

func snapshot(t testing.TB, f Fixture) state {
	t.Helper()
	m, rev, err := f.Store.LoadPolicy(context.Background())
	if err != nil {
		t.Fatalf("LoadPolicy: %v", err)
	}
	return state{m: m, rev: rev, rows: countRows(t, f.DB)}
}

func countRows(t testing.TB, db *gorm.DB) int64 {
	t.Helper()
	if db == nil {
		return -1
	}
	var n int64
	if err := db.Model(&gormstore.Rule{}).Count(&n).Error; err != nil {
		t.Fatalf("count rows: %v", err)
	}
	return n
}

func assertUnchanged(t testing.TB, f Fixture, before state, keepText bool) {
	t.Helper()
	after := snapshot(t, f)
	if after.rev != before.rev {
		t.Errorf("revision moved from %d to %d", before.rev, after.rev)
	}
	if after.rows != before.rows {
		t.Errorf("row count moved from %d to %d", before.rows, after.rows)
	}
	Equal(t, after.m, before.m, keepText)
}

func seeded(t *testing.T, h Harness) (Fixture, int64) {
	t.Helper()
	f := h.New(t)
	rev, err := f.Store.Replace(context.Background(), CityModel())
	if err != nil {
		t.Fatalf("Replace: %v", err)
	}
	return f, rev
}

func testFresh(t *testing.T, h Harness) {
	f := h.New(t)
	m, rev, err := f.Store.LoadPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	Equal(t, m, rbac.Model{}, h.KeepsText)
	if rev != 0 && rev != 1 {
		t.Errorf("fresh store at revision %d, want 0 (SQL) or 1 (memory)", rev)
	}
	if n := countRows(t, f.DB); n > 0 {
		t.Errorf("fresh store has %d rows", n)
	}
}

func testRoundTrip(t *testing.T, h Harness) {
	ctx := context.Background()
	f := h.New(t)
	_, r0, err := f.Store.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := CityModel()
	rev, err := f.Store.Replace(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if rev != r0+1 {
		t.Errorf("Replace returned revision %d, want %d", rev, r0+1)
	}
	got, lrev, err := f.Store.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lrev != rev {
		t.Errorf("LoadPolicy revision %d, want %d", lrev, rev)
	}
	Equal(t, got, want, h.KeepsText)
	if !h.KeepsText {
		for _, r := range got.Roles {
			if r.Labels != nil {
				t.Errorf("role %s came back with labels %v; the SQL stores do not keep them", r.ID, r.Labels)
			}
		}
	}
	if f.DB != nil {
		lines, err := casbinx.Lines(want)
		if err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, f.DB); n != int64(len(lines)) {
			t.Errorf("%d rows stored, want one per line: %d", n, len(lines))
		}
	}
	p, err := rbac.Compile(got)
	if err != nil {
		t.Fatal(err)
	}
	Agree(t, want, func(s rbac.Subject, x rbac.Permission, sc rbac.Scope, at time.Time) (bool, error) {
		return p.Allows(s, x, sc, at), nil
	})

	// Replacing with the same model rewrites nothing but moves the revision.
	rev2, err := f.Store.Replace(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if rev2 != rev+1 {
		t.Errorf("second Replace returned revision %d, want %d", rev2, rev+1)
	}
	// Replacing with the empty model empties the store.
	if _, err := f.Store.Replace(ctx, rbac.Model{}); err != nil {
		t.Fatal(err)
	}
	s := snapshot(t, f)
	Equal(t, s.m, rbac.Model{}, h.KeepsText)
	if s.rows > 0 {
		t.Errorf("%d rows left after replacing with the empty model", s.rows)
	}
}

// testLoadCompiled checks the load that hands over its compiled policy: the
// policy answers as the stored model does, and a load that asks only for
// revisions above the current one reads nothing.
func testLoadCompiled(t *testing.T, h Harness) {
	ctx := context.Background()
	f, rev := seeded(t, h)
	m, p, got, err := f.Store.LoadCompiled(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got != rev || p == nil {
		t.Fatalf("LoadCompiled(-1) = revision %d, policy %p; want %d and a policy", got, p, rev)
	}
	Equal(t, m, CityModel(), h.KeepsText)
	Agree(t, CityModel(), func(s rbac.Subject, x rbac.Permission, sc rbac.Scope, at time.Time) (bool, error) {
		return p.Allows(s, x, sc, at), nil
	})
	for _, after := range []int64{rev, rev + 1} {
		m, p, got, err = f.Store.LoadCompiled(ctx, after)
		if err != nil {
			t.Fatal(err)
		}
		if got != rev || p != nil || len(m.Grants) != 0 || len(m.Roles) != 0 {
			t.Errorf("LoadCompiled(%d) at revision %d = revision %d, policy %p, %d grants; want only the revision", after, rev, got, p, len(m.Grants))
		}
	}
	zoe := rbac.Grant{Subject: "user:zoe", Role: "clerk", Scope: "org"}
	if !slices.ContainsFunc(CityModel().Roles, func(r rbac.Role) bool { return r.ID == zoe.Role }) {
		t.Fatalf("the fixture has no role %s", zoe.Role)
	}
	next, err := f.Store.Apply(ctx, rbac.Change{Grant: []rbac.Grant{zoe}})
	if err != nil {
		t.Fatal(err)
	}
	_, p, got, err = f.Store.LoadCompiled(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	if got != next || p == nil {
		t.Fatalf("LoadCompiled(%d) after a change = revision %d, policy %p; want %d and a policy", rev, got, p, next)
	}
	if len(p.KnownPermissions()) == 0 || !slices.ContainsFunc(p.KnownPermissions(), func(x rbac.Permission) bool {
		return p.Allows(zoe.Subject, x, "org", Noon)
	}) {
		t.Error("the policy loaded after granting user:zoe gives her nothing")
	}
}

func testApplySequence(t *testing.T, h Harness) {
	ctx := context.Background()
	f, rev := seeded(t, h)
	want := CityModel()
	changes := []struct {
		name string
		c    rbac.Change
	}{
		{"grant", rbac.Change{Grant: []rbac.Grant{{Subject: "user:frank", Role: "clerk", Scope: "ward:7", Reason: "new hire"}}}},
		{"temporary grant", rbac.Change{Grant: []rbac.Grant{{Subject: "user:frank", Role: "cbo", Scope: "dept:building", NotBefore: Noon, NotAfter: Noon.Add(72 * time.Hour)}}}},
		{"revoke", rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:bob", Role: "ap", Scope: "dept:finance"}}}},
		{"join", rbac.Change{Join: []rbac.Membership{{Member: "user:frank", Group: "unit:it"}}}},
		{"join again is a no-op", rbac.Change{Join: []rbac.Membership{{Member: "user:frank", Group: "unit:it"}}}},
		{"leave", rbac.Change{Leave: []rbac.Membership{{Member: "user:dana", Group: "group:clerks"}}}},
		{"new role", rbac.Change{PutRoles: []rbac.Role{{ID: "inspector", Inherits: []rbac.RoleID{"permit-reader"}, Permissions: []rbac.Permission{"permits.inspection.*"}}}}},
		{"replace role", rbac.Change{PutRoles: []rbac.Role{{ID: "clerk", Inherits: []rbac.RoleID{"permit-reader", "inspector"},
			Permissions: []rbac.Permission{"permits.application.create"}, Deny: []rbac.Permission{"permits.application.delete"}}}}},
		{"composite gains a parent", rbac.Change{PutRoles: []rbac.Role{{ID: "finance-manager", Composite: true, Inherits: []rbac.RoleID{"ap", "ar", "privacy"}}}}},
		{"composite flag cleared", rbac.Change{PutRoles: []rbac.Role{{ID: "finance-manager", Inherits: []rbac.RoleID{"ap", "ar"}}}}},
		{"delete role", rbac.Change{DeleteRoles: []rbac.RoleID{"inspector"}, PutRoles: []rbac.Role{{ID: "clerk", Inherits: []rbac.RoleID{"permit-reader"}}}}},
		{"scopes and catalog", rbac.Change{PutScopes: []rbac.ScopeNode{{Scope: "facility:yard", Parent: "dept:building"}, {Scope: "ward:7", Parent: "dept:building"}},
			AddPermissions: []rbac.Permission{"permits.fee.waive", "permits.application.delete"}}},
		{"several at once", rbac.Change{
			Grant:  []rbac.Grant{{Subject: "svc:reports", Role: "privacy", Scope: "org"}, {Subject: "group:clerks", Role: "cbo", Scope: "facility:yard"}},
			Revoke: []rbac.GrantKey{{Subject: "user:frank", Role: "clerk", Scope: "ward:7"}},
			Join:   []rbac.Membership{{Member: "svc:reports", Group: "group:clerks"}},
		}},
		{"re-grant with a window", rbac.Change{
			Revoke: []rbac.GrantKey{{Subject: "user:carol", Role: "finance-manager", Scope: "org"}},
			Grant:  []rbac.Grant{{Subject: "user:carol", Role: "finance-manager", Scope: "org", NotBefore: Noon.Add(time.Hour)}},
		}},
	}
	for _, step := range changes {
		step.c.At = Noon // the sequence is made at noon, before its windows end
		next, err := want.Apply(step.c)
		if err != nil {
			t.Fatalf("%s: model.Apply: %v", step.name, err)
		}
		got, err := f.Store.Apply(ctx, step.c)
		if err != nil {
			t.Fatalf("%s: Apply: %v", step.name, err)
		}
		if got != rev+1 {
			t.Errorf("%s: Apply returned revision %d, want %d", step.name, got, rev+1)
		}
		rev, want = got, next
		s := snapshot(t, f)
		if s.rev != rev {
			t.Errorf("%s: loaded revision %d, want %d", step.name, s.rev, rev)
		}
		Equal(t, s.m, want, h.KeepsText)
		if f.DB != nil {
			lines, err := casbinx.Lines(want)
			if err != nil {
				t.Fatal(err)
			}
			if s.rows != int64(len(lines)) {
				t.Errorf("%s: %d rows, want %d", step.name, s.rows, len(lines))
			}
		}
	}
}

// Hostile is a list of strings that must never become part of a name:
// Casbin's CSV separators and quotes, line breaks, NUL, SQL comment and
// statement syntax, spaces, upper case and Unicode look-alikes.
var Hostile = []string{
	"a,b", `a"b`, "a'b", "a\nb", "a\r\nb", "a\x00b", "a;--", "a'; DROP TABLE casbin_rule;--",
	"a b", " a", "a\tb", "Alice", "\u0430lice" /* Cyrillic a */, "ａlice" /* full-width */, "ali\u202ece",
	"al\u200bice" /* zero-width space */, "a:b", "a/b", "a#b",
}

func testRefused(t *testing.T, h Harness) {
	ctx := context.Background()
	f, _ := seeded(t, h)
	before := snapshot(t, f)

	// Each refusal wraps exactly one of rbac's sentinels: invalid input,
	// not found, or exists.
	type refusal struct {
		name     string
		c        rbac.Change
		notFound bool // wraps rbac.ErrNotFound
		invalid  bool // wraps rbac.ErrInvalidInput
		exists   bool // wraps rbac.ErrExists
	}
	var cases []refusal
	for _, x := range Hostile {
		q := fmt.Sprintf("%q", x)
		cases = append(cases,
			refusal{name: "role id " + q, invalid: true,
				c: rbac.Change{PutRoles: []rbac.Role{{ID: rbac.RoleID("clerk" + x), Permissions: []rbac.Permission{"permits.application.read"}}}}},
			refusal{name: "grant of role " + q, invalid: true,
				c: rbac.Change{Grant: []rbac.Grant{{Subject: "user:zoe", Role: rbac.RoleID("clerk" + x), Scope: "org"}}}},
			refusal{name: "subject " + q, invalid: true,
				c: rbac.Change{Grant: []rbac.Grant{{Subject: rbac.Subject("user:zoe" + x), Role: "clerk", Scope: "org"}}}},
			refusal{name: "subject kind " + q, invalid: true,
				c: rbac.Change{Grant: []rbac.Grant{{Subject: rbac.Subject(x + "user:zoe"), Role: "clerk", Scope: "org"}}}},
			refusal{name: "scope " + q, invalid: true,
				c: rbac.Change{Grant: []rbac.Grant{{Subject: "user:zoe", Role: "clerk", Scope: rbac.Scope("dept:roads" + x)}}}},
			refusal{name: "scope node " + q, invalid: true,
				c: rbac.Change{PutScopes: []rbac.ScopeNode{{Scope: rbac.Scope("ward:9" + x), Parent: "org"}}}},
			refusal{name: "member " + q, invalid: true,
				c: rbac.Change{Join: []rbac.Membership{{Member: rbac.Subject("user:zoe" + x), Group: "group:clerks"}}}},
			refusal{name: "group " + q, invalid: true,
				c: rbac.Change{Join: []rbac.Membership{{Member: "user:zoe", Group: rbac.Subject("group:clerks" + x)}}}},
			refusal{name: "permission " + q, invalid: true,
				c: rbac.Change{PutRoles: []rbac.Role{{ID: "newrole", Permissions: []rbac.Permission{rbac.Permission("permits.app" + x + ".read")}}}}},
			refusal{name: "catalog " + q, invalid: true,
				c: rbac.Change{AddPermissions: []rbac.Permission{rbac.Permission("permits.application.read" + x)}}},
		)
	}
	cases = append(cases,
		refusal{name: "grant to a missing role", notFound: true,
			c: rbac.Change{Grant: []rbac.Grant{{Subject: "user:zoe", Role: "ghost", Scope: "org"}}}},
		refusal{name: "inherit a missing role", notFound: true,
			c: rbac.Change{PutRoles: []rbac.Role{{ID: "newrole", Inherits: []rbac.RoleID{"ghost"}}}}},
		refusal{name: "valid_until before valid_from", invalid: true,
			c: rbac.Change{Grant: []rbac.Grant{{Subject: "user:zoe", Role: "clerk", Scope: "org", NotBefore: Noon, NotAfter: Noon.Add(-time.Second)}}}},
		refusal{name: "valid_until equal to valid_from", invalid: true,
			c: rbac.Change{Grant: []rbac.Grant{{Subject: "user:zoe", Role: "clerk", Scope: "org", NotBefore: Noon, NotAfter: Noon}}}},
		refusal{name: "valid_from before 1970", invalid: true,
			c: rbac.Change{Grant: []rbac.Grant{{Subject: "user:zoe", Role: "clerk", Scope: "org", NotBefore: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}}}},
		refusal{name: "revoke a grant that does not exist", notFound: true,
			c: rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:zoe", Role: "clerk", Scope: "org"}}}},
		refusal{name: "revoke at the wrong scope", notFound: true,
			c: rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:bob", Role: "ap", Scope: "org"}}}},
		refusal{name: "leave a group one is not in", notFound: true,
			c: rbac.Change{Leave: []rbac.Membership{{Member: "user:zoe", Group: "group:clerks"}}}},
		refusal{name: "delete a missing role", notFound: true,
			c: rbac.Change{DeleteRoles: []rbac.RoleID{"ghost"}}},
		refusal{name: "delete a role still granted", invalid: true,
			c: rbac.Change{DeleteRoles: []rbac.RoleID{"ap"}}},
		refusal{name: "delete a role still inherited", invalid: true,
			c: rbac.Change{DeleteRoles: []rbac.RoleID{"permit-reader"}, Revoke: []rbac.GrantKey{{Subject: "unit:it", Role: "permit-reader", Scope: "org"}}}},
		refusal{name: "inheritance cycle", invalid: true,
			c: rbac.Change{PutRoles: []rbac.Role{{ID: "permit-reader", Inherits: []rbac.RoleID{"cbo"}}}}},
		refusal{name: "grant twice", exists: true,
			c: rbac.Change{Grant: []rbac.Grant{{Subject: "user:bob", Role: "ap", Scope: "dept:finance"}}}},
		refusal{name: "role as subject", invalid: true,
			c: rbac.Change{Grant: []rbac.Grant{{Subject: "role:clerk", Role: "clerk", Scope: "org"}}}},
		refusal{name: "group joins a group", invalid: true,
			c: rbac.Change{Join: []rbac.Membership{{Member: "group:clerks", Group: "unit:it"}}}},
		refusal{name: "wildcard in the catalog", invalid: true,
			c: rbac.Change{AddPermissions: []rbac.Permission{"permits.*"}}},
		refusal{name: "scope under an undeclared parent", invalid: true,
			c: rbac.Change{PutScopes: []rbac.ScopeNode{{Scope: "facility:x", Parent: "dept:nowhere"}}}},
		refusal{name: "one bad grant among good ones", invalid: true,
			c: rbac.Change{
				Grant: []rbac.Grant{{Subject: "user:zoe", Role: "clerk", Scope: "org"}, {Subject: "user:yan", Role: "clerk", Scope: "dept:a,b"}},
				Join:  []rbac.Membership{{Member: "user:zoe", Group: "group:clerks"}},
			}},
		refusal{name: "good grant with a bad revoke", notFound: true,
			c: rbac.Change{Grant: []rbac.Grant{{Subject: "user:zoe", Role: "clerk", Scope: "org"}}, Revoke: []rbac.GrantKey{{Subject: "user:zoe", Role: "cbo", Scope: "org"}}}},
		refusal{name: "empty change", invalid: true, c: rbac.Change{}},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rev, err := f.Store.Apply(ctx, tc.c)
			if err == nil {
				t.Fatalf("accepted (revision %d)", rev)
			}
			if rev != 0 {
				t.Errorf("refused change returned revision %d", rev)
			}
			for _, x := range []struct {
				sentinel error
				want     bool
			}{{rbac.ErrInvalidInput, tc.invalid}, {rbac.ErrNotFound, tc.notFound}, {rbac.ErrExists, tc.exists},
				{rbac.ErrConflict, false}, {rbac.ErrChanged, false}} {
				if errors.Is(err, x.sentinel) != x.want {
					t.Errorf("errors.Is(err, %v) = %v, want %v: %v", x.sentinel, !x.want, x.want, err)
				}
			}
			var inv *rbac.InvalidError
			var nf *rbac.NotFoundError
			var nfi *rbac.NotFoundErrorInvalid
			var cyc *rbac.CycleError
			var ex *rbac.ExistsError
			if !errors.As(err, &inv) && !errors.As(err, &nf) && !errors.As(err, &nfi) && !errors.As(err, &cyc) && !errors.As(err, &ex) {
				t.Errorf("error is none of rbac's typed errors: %T %v", err, err)
			}
			if tc.name == "inheritance cycle" && !errors.As(err, &cyc) {
				t.Errorf("want a *rbac.CycleError: %v", err)
			}
			if errors.Is(err, gormstore.ErrNotMigrated) {
				t.Errorf("refusal reported as a missing migration: %v", err)
			}
			for _, x := range []string{"\x00", "\n"} {
				if strings.Contains(err.Error(), x) {
					t.Errorf("error message holds raw input %q: %q", x, err.Error())
				}
			}
			assertUnchanged(t, f, before, h.KeepsText)
		})
	}
}

func testReplaceRefused(t *testing.T, h Harness) {
	ctx := context.Background()
	f, _ := seeded(t, h)
	before := snapshot(t, f)
	bad := map[string]func(*rbac.Model){
		"hostile role": func(m *rbac.Model) { m.Roles[0].ID = "reader,x" },
		"hostile subject": func(m *rbac.Model) {
			m.Grants[0].Subject = "user:a\"b"
		},
		"missing role":  func(m *rbac.Model) { m.Grants[0].Role = "ghost" },
		"bad window":    func(m *rbac.Model) { m.Grants[1].NotAfter = m.Grants[1].NotBefore.Add(-time.Hour) },
		"duplicate":     func(m *rbac.Model) { m.Grants = append(m.Grants, m.Grants[0]) },
		"role twice":    func(m *rbac.Model) { m.Roles = append(m.Roles, rbac.Role{ID: m.Roles[0].ID}) },
		"NUL in scope":  func(m *rbac.Model) { m.Scopes[0].Scope = "dept:a\x00" },
		"upper case":    func(m *rbac.Model) { m.Members[0].Member = "user:Bob" },
		"look-alike":    func(m *rbac.Model) { m.Members[0].Group = "group:cl\u0435rks" },
		"SQL in a role": func(m *rbac.Model) { m.Roles[1].Permissions = append(m.Roles[1].Permissions, "permits.x;--.read") },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			m := CityModel()
			mutate(&m)
			rev, err := f.Store.Replace(ctx, m)
			if err == nil {
				t.Fatalf("accepted (revision %d)", rev)
			}
			if !errors.Is(err, rbac.ErrInvalidInput) {
				t.Errorf("error does not wrap rbac.ErrInvalidInput: %v", err)
			}
			assertUnchanged(t, f, before, h.KeepsText)
		})
	}
}

func testTooLong(t *testing.T, h Harness) {
	ctx := context.Background()
	f, _ := seeded(t, h)
	before := snapshot(t, f)
	// Valid for rbac (ids up to 128 bytes) but "role:" + id does not fit.
	long := rbac.RoleID(strings.Repeat("r", h.MaxValueLen))
	if err := long.Validate(); err != nil {
		t.Fatalf("test id invalid for rbac: %v", err)
	}
	_, err := f.Store.Apply(ctx, rbac.Change{PutRoles: []rbac.Role{{ID: long}}})
	if !errors.Is(err, rbac.ErrInvalidInput) {
		t.Fatalf("Apply err = %v, want rbac.ErrInvalidInput", err)
	}
	var inv *rbac.InvalidError
	if !errors.As(err, &inv) || !strings.Contains(inv.Reason, "longer than") {
		t.Errorf("want an *rbac.InvalidError about the length: %v", err)
	}
	m := CityModel()
	m.Grants[0].Subject = rbac.Subject("user:" + strings.Repeat("u", h.MaxValueLen))
	if _, err := f.Store.Replace(ctx, m); !errors.Is(err, rbac.ErrInvalidInput) {
		t.Fatalf("Replace err = %v, want rbac.ErrInvalidInput", err)
	}
	assertUnchanged(t, f, before, h.KeepsText)

	// The longest name that fits is stored and loads back.
	fits := rbac.RoleID(strings.Repeat("r", h.MaxValueLen-len("role:")))
	if _, err := f.Store.Apply(ctx, rbac.Change{PutRoles: []rbac.Role{{ID: fits}}}); err != nil {
		t.Fatalf("name of exactly %d stored bytes: %v", h.MaxValueLen, err)
	}
	got, _, err := f.Store.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(got.Roles, func(r rbac.Role) bool { return r.ID == fits }) {
		t.Errorf("role %s not loaded back", fits)
	}
}

// testConcurrent applies many grants at once, from goroutines and (where
// the harness has one) a second connection pool, while readers load the
// policy. Every grant must survive, every revision must be handed out once,
// and every snapshot a reader sees must hold exactly as many of the new
// grants as its revision says.
func testConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	f, start := seeded(t, h)
	base := len(CityModel().Grants)
	const n = 24
	stores := []Store{f.Store}
	if f.Second != nil {
		stores = append(stores, f.Second)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		revs    []int64
		done    = make(chan struct{})
		readers sync.WaitGroup
	)
	for r := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s := stores[r%len(stores)]
			for {
				select {
				case <-done:
					return
				default:
				}
				m, rev, err := s.LoadPolicy(ctx)
				if err != nil {
					t.Errorf("LoadPolicy during writes: %v", err)
					return
				}
				if got, want := len(m.Grants)-base, int(rev-start); got != want {
					t.Errorf("snapshot at revision %d holds %d new grants, want %d", rev, got, want)
					return
				}
			}
		}()
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[i%len(stores)]
			rev, err := s.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{
				Subject: rbac.Subject(fmt.Sprintf("user:u%02d", i)), Role: "clerk", Scope: "ward:7",
			}}})
			if err != nil {
				t.Errorf("Apply %d: %v", i, err)
				return
			}
			mu.Lock()
			revs = append(revs, rev)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	if t.Failed() {
		return
	}
	slices.Sort(revs)
	for i, r := range revs {
		if r != start+1+int64(i) {
			t.Fatalf("revisions handed out: %v, want %d..%d once each", revs, start+1, start+n)
		}
	}
	m, rev, err := f.Store.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rev != start+n {
		t.Errorf("final revision %d, want %d", rev, start+n)
	}
	for i := range n {
		sub := rbac.Subject(fmt.Sprintf("user:u%02d", i))
		if !slices.ContainsFunc(m.Grants, func(g rbac.Grant) bool { return g.Subject == sub }) {
			t.Errorf("grant to %s lost", sub)
		}
	}
	if len(m.Grants) != base+n {
		t.Errorf("%d grants, want %d", len(m.Grants), base+n)
	}
}

// testConcurrentConflicting runs changes whose validity depends on each
// other. A writer that read the lines before taking the lock would let both
// of a pair through (a role deleted while granted) or write one line twice.
func testConcurrentConflicting(t *testing.T, h Harness) {
	ctx := context.Background()
	f, start := seeded(t, h)
	stores := []Store{f.Store}
	if f.Second != nil {
		stores = append(stores, f.Second)
	}

	// The same membership joined many times at once: each change succeeds
	// (a join of an existing membership changes nothing) and it is stored once.
	const n = 12
	join := rbac.Change{Join: []rbac.Membership{{Member: "user:zoe", Group: "group:clerks"}}}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := stores[i%len(stores)].Apply(ctx, join); err != nil {
				t.Errorf("join %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	s := snapshot(t, f)
	if s.rev != start+n {
		t.Errorf("revision %d after %d joins, want %d", s.rev, n, start+n)
	}
	if c := len(slices.DeleteFunc(slices.Clone(s.m.Members), func(m rbac.Membership) bool { return m != join.Join[0] })); c != 1 {
		t.Errorf("membership stored %d times", c)
	}

	// Delete a role while granting it: exactly one of the pair may win.
	const pairs = 8
	var roles []rbac.Role
	for i := range pairs {
		roles = append(roles, rbac.Role{ID: rbac.RoleID(fmt.Sprintf("tmp-%d", i)), Permissions: []rbac.Permission{"permits.application.read"}})
	}
	if _, err := f.Store.Apply(ctx, rbac.Change{PutRoles: roles}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	wins := 0
	for i := range pairs {
		id := roles[i].ID
		for j, c := range []rbac.Change{
			{DeleteRoles: []rbac.RoleID{id}},
			{Grant: []rbac.Grant{{Subject: rbac.Subject("user:t" + fmt.Sprint(i)), Role: id, Scope: "org"}}},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := stores[(i+j)%len(stores)].Apply(ctx, c)
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				// The grant lost (its role is gone) or the delete lost (the
				// role is granted): one sentinel each.
				case errors.Is(err, rbac.ErrNotFound) == errors.Is(err, rbac.ErrInvalidInput):
					t.Errorf("pair %d: refused with %v, want an error wrapping exactly one of rbac.ErrNotFound, rbac.ErrInvalidInput", i, err)
				}
			}()
		}
	}
	wg.Wait()
	if wins != pairs {
		t.Errorf("%d changes of %d conflicting pairs succeeded, want exactly one per pair", wins, pairs)
	}
	if _, _, err := f.Store.LoadPolicy(ctx); err != nil {
		t.Errorf("stored policy no longer loads: %v", err)
	}
}

// testConflictRules stores segregation-of-duties rules where the store can,
// and checks that it refuses them, unchanged, where it cannot.
func testConflictRules(t *testing.T, h Harness) {
	ctx := context.Background()
	f, _ := seeded(t, h)
	before := snapshot(t, f)
	// user:carol already holds ap and ar through the composite
	// finance-manager: adding the rule accepts that existing violation.
	rule := rbac.ConflictRule{ID: "ap-ar", Description: "who enters invoices does not receive payments", Roles: [2]rbac.RoleID{"ap", "ar"}}
	add := rbac.Change{PutConflicts: []rbac.ConflictRule{rule}}
	withRule := CityModel()
	withRule.Conflicts = []rbac.ConflictRule{rule}
	if !h.StoresConflicts {
		_, err := f.Store.Apply(ctx, add)
		if !errors.Is(err, rbac.ErrInvalidInput) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Apply of a conflict rule: err = %v, want rbac.ErrInvalidInput and errors.ErrUnsupported", err)
		}
		_, err = f.Store.Replace(ctx, withRule)
		if !errors.Is(err, rbac.ErrInvalidInput) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Replace with a conflict rule: err = %v, want rbac.ErrInvalidInput and errors.ErrUnsupported", err)
		}
		assertUnchanged(t, f, before, h.KeepsText)
		return
	}
	rev, err := f.Store.Apply(ctx, add)
	if err != nil {
		t.Fatal(err)
	}
	// user:bob holds ap at dept:finance; ar at org would overlap it.
	_, err = f.Store.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:bob", Role: "ar", Scope: "org"}}})
	if !errors.Is(err, rbac.ErrConflict) {
		t.Errorf("grant breaking a conflict rule: err = %v, want rbac.ErrConflict", err)
	}
	s := snapshot(t, f)
	if s.rev != rev {
		t.Errorf("refused change moved the revision from %d to %d", rev, s.rev)
	}
	Equal(t, s.m, withRule, h.KeepsText)
	// A waiver that lapsed (the store judges it now, long after Noon)
	// permits nothing new.
	waiver := rbac.Waiver{Rule: "ap-ar", Subject: "user:bob", ApprovedBy: "user:cfo", Reason: "small office", NotAfter: Noon.Add(30 * 24 * time.Hour)}
	if _, err := f.Store.Apply(ctx, rbac.Change{PutWaivers: []rbac.Waiver{waiver},
		Grant: []rbac.Grant{{Subject: "user:bob", Role: "ar", Scope: "org"}}}); !errors.Is(err, rbac.ErrConflict) {
		t.Errorf("grant under a lapsed waiver: err = %v, want rbac.ErrConflict", err)
	}
	waiver.NotAfter = time.Now().Add(30 * 24 * time.Hour)
	if _, err := f.Store.Apply(ctx, rbac.Change{PutWaivers: []rbac.Waiver{waiver},
		Grant: []rbac.Grant{{Subject: "user:bob", Role: "ar", Scope: "org"}}}); err != nil {
		t.Fatalf("waived grant: %v", err)
	}
	got, _, err := f.Store.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Waivers) != 1 || len(got.Conflicts) != 1 {
		t.Errorf("conflict rules and waivers not kept: %+v %+v", got.Conflicts, got.Waivers)
	}
}

// testConflictReplace checks that a bulk replacement (an import) runs the
// conflict check against the stored model, and that rows written by
// others that break a rule show in the compliance report.
func testConflictReplace(t *testing.T, h Harness) {
	ctx := context.Background()
	rule := rbac.ConflictRule{ID: "ap-ar", Roles: [2]rbac.RoleID{"ap", "ar"}}
	withRule := CityModel()
	withRule.Conflicts = []rbac.ConflictRule{rule}
	// user:dana holds ap through a grant that predates the rule.
	withRule.Grants = append(withRule.Grants, rbac.Grant{Subject: "user:dana", Role: "ap", Scope: "dept:finance"},
		rbac.Grant{Subject: "user:dana", Role: "ar", Scope: "dept:finance", NotAfter: time.Now().Add(24 * time.Hour)})
	grants := func(m rbac.Model, gs ...rbac.Grant) rbac.Model {
		m = m.Clone()
		m.Grants = append(m.Grants, gs...)
		return m
	}
	without := func(m rbac.Model, k rbac.GrantKey) rbac.Model {
		m = m.Clone()
		m.Grants = slices.DeleteFunc(m.Grants, func(g rbac.Grant) bool { return g.Key() == k })
		return m
	}

	// Import into an empty store: a model that breaks its own rule is
	// refused, whatever its size.
	fresh := h.New(t)
	if _, err := fresh.Store.Replace(ctx, withRule); !errors.Is(err, rbac.ErrConflict) {
		t.Errorf("import of a model with an unwaived violation: err = %v, want rbac.ErrConflict", err)
	}
	if m, _, err := fresh.Store.LoadPolicy(ctx); err != nil || len(m.Grants) != 0 {
		t.Errorf("refused import wrote something: %d grants, %v", len(m.Grants), err)
	}

	// The violation predates the rule: grants first, then the rule.
	f, _ := seeded(t, h)
	if _, err := f.Store.Replace(ctx, grants(CityModel(), withRule.Grants[len(withRule.Grants)-2:]...)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Store.Apply(ctx, rbac.Change{PutConflicts: []rbac.ConflictRule{rule}}); err != nil {
		t.Fatalf("adding a rule over an existing violation: %v", err)
	}
	before := snapshot(t, f)
	danaAR := rbac.GrantKey{Subject: "user:dana", Role: "ar", Scope: "dept:finance"}
	refused := map[string]rbac.Model{
		"a new violation":     grants(withRule, rbac.Grant{Subject: "user:bob", Role: "ar", Scope: "org"}),
		"extended in time":    grants(without(withRule, danaAR), rbac.Grant{Subject: "user:dana", Role: "ar", Scope: "dept:finance"}),
		"widened in scope":    grants(without(withRule, danaAR), rbac.Grant{Subject: "user:dana", Role: "ar", Scope: "org", NotAfter: time.Now().Add(time.Hour)}),
		"another scope, too":  grants(withRule, rbac.Grant{Subject: "user:dana", Role: "ar", Scope: "ward:7"}),
		"through a new group": grants(withRule, rbac.Grant{Subject: "group:clerks", Role: "ar", Scope: "ward:7"}),
	}
	for name, m := range refused {
		if _, err := f.Store.Replace(ctx, m); !errors.Is(err, rbac.ErrConflict) {
			t.Errorf("Replace, %s: err = %v, want rbac.ErrConflict", name, err)
		}
		assertUnchanged(t, f, before, h.KeepsText)
	}
	// The same violation, unchanged, with an unrelated edit: accepted.
	same := withRule.Clone()
	same.Roles = append(same.Roles, rbac.Role{ID: "parks-reader", Permissions: []rbac.Permission{"parks.bench.read"}})
	if _, err := f.Store.Replace(ctx, same); err != nil {
		t.Fatalf("Replace keeping the existing violation as it is: %v", err)
	}
	// A waiver in force permits a new one.
	waived := grants(same, rbac.Grant{Subject: "user:bob", Role: "ar", Scope: "org"})
	waived.Waivers = []rbac.Waiver{{Rule: "ap-ar", Subject: "user:bob", ApprovedBy: "user:cfo", Reason: "small office",
		NotBefore: time.Now().Add(-time.Hour).Truncate(time.Second).UTC(), NotAfter: time.Now().Add(time.Hour).Truncate(time.Second).UTC()}}
	if _, err := f.Store.Replace(ctx, waived); err != nil {
		t.Fatalf("Replace with a waived violation: %v", err)
	}
	if got, _, err := f.Store.LoadPolicy(ctx); err != nil || len(got.Waivers) != 1 || !reflect.DeepEqual(got.Waivers[0], waived.Waivers[0]) {
		t.Errorf("waiver with a window not kept: %+v, %v; want %+v", got.Waivers, err, waived.Waivers)
	}

	// Rows written by others are reported when they break a rule.
	if f.DB == nil {
		return
	}
	for _, l := range casbinx.Encode(rbac.Model{Grants: []rbac.Grant{{Subject: "user:erin", Role: "finance-manager", Scope: "dept:finance"}}}) {
		var v [6]string
		copy(v[:], l.Values)
		row := gormstore.Rule{Ptype: l.PType, V0: v[0], V1: v[1], V2: v[2], V3: v[3], V4: v[4], V5: v[5]}
		if err := f.DB.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
	}
	_, p, _, err := f.Store.LoadCompiled(ctx, -1)
	if err != nil {
		t.Fatalf("loading rows written by others: %v", err)
	}
	found := false
	for _, v := range p.Violations(time.Now()) {
		found = found || (v.Subject == "user:erin" && v.Rule == "ap-ar" && v.Waiver == nil)
	}
	if !found {
		t.Errorf("a violation written by others is missing from the report: %+v", p.Violations(time.Now()))
	}
}

func testCanceled(t *testing.T, h Harness) {
	f, _ := seeded(t, h)
	before := snapshot(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := f.Store.LoadPolicy(ctx); err == nil {
		t.Error("LoadPolicy with a canceled context succeeded")
	} else if errors.Is(err, gormstore.ErrNotMigrated) {
		t.Errorf("cancellation reported as a missing migration: %v", err)
	}
	c := rbac.Change{Grant: []rbac.Grant{{Subject: "user:zoe", Role: "clerk", Scope: "org"}}}
	if _, err := f.Store.Apply(ctx, c); err == nil {
		t.Error("Apply with a canceled context succeeded")
	}
	if _, err := f.Store.Replace(ctx, rbac.Model{}); err == nil {
		t.Error("Replace with a canceled context succeeded")
	}
	assertUnchanged(t, f, before, h.KeepsText)
}

// testCasbin loads the stored rows with gorm-adapter itself into a plain
// Casbin enforcer, which must answer like the compiled model.
func testCasbin(t *testing.T, h Harness) {
	f, _ := seeded(t, h)
	if f.DB == nil {
		t.Skip("no database: nothing for gorm-adapter to read")
	}
	rowsBefore := countRows(t, f.DB)
	// NewAdapterByDB with its AutoMigrate on: on a migrated database it must
	// find gorm-adapter's own table and index and change nothing.
	a, err := gormadapter.NewAdapterByDB(f.DB.Session(&gorm.Session{NewDB: true}))
	if err != nil {
		t.Fatalf("gormadapter.NewAdapterByDB on the migrated database: %v", err)
	}
	cm, err := casbinx.NewModel()
	if err != nil {
		t.Fatal(err)
	}
	e, err := casbin.NewEnforcer(cm, a)
	if err != nil {
		t.Fatalf("casbin.NewEnforcer over the stored rows: %v", err)
	}
	if err := casbinx.Configure(e); err != nil {
		t.Fatal(err)
	}
	Agree(t, CityModel(), func(s rbac.Subject, x rbac.Permission, sc rbac.Scope, at time.Time) (bool, error) {
		return casbinx.Enforce(e, s, x, sc, at)
	})
	if n := countRows(t, f.DB); n != rowsBefore {
		t.Errorf("gorm-adapter changed the row count from %d to %d", rowsBefore, n)
	}
	// And the store still reads the table after gorm-adapter's migration.
	got, _, err := f.Store.LoadPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	Equal(t, got, CityModel(), h.KeepsText)
}

// BadRow is a row the store never writes itself, as another tool could
// write it into casbin_rule, with what loading it must do.
type BadRow struct {
	Name string
	Rows []gormstore.Rule
	// Blocked are the subjects the rows must block (every check denies).
	Blocked []rbac.Subject
}

// BadRows are the rows [Run] stores next to [CityModel]: each one must be
// quarantined, grant nothing, and block only what it could make Casbin
// deny.
func BadRows() []BadRow {
	open := func(sub, role, scope, eft string) gormstore.Rule {
		return gormstore.Rule{Ptype: "p", V0: sub, V1: role, V2: scope, V3: "00000000000000000000", V4: "99999999999999999999", V5: eft}
	}
	pair := func(sub, role, scope, from, until string) []gormstore.Rule {
		return []gormstore.Rule{
			{Ptype: "p", V0: sub, V1: role, V2: scope, V3: from, V4: until, V5: "allow"},
			{Ptype: "p", V0: sub, V1: role, V2: scope, V3: from, V4: until, V5: "deny"},
		}
	}
	const openFrom, openUntil = "00000000000000000000", "99999999999999999999"
	return []BadRow{
		{Name: "grant of a role with no lines", Rows: pair("user:mallory", "role:ghost", "org", openFrom, openUntil)},
		{Name: "subject with upper case", Rows: pair("user:Mallory", "role:cbo", "org", openFrom, openUntil)},
		{Name: "subject with a comma", Rows: pair("user:mal,lory", "role:cbo", "org", openFrom, openUntil)},
		{Name: "role id with a space", Rows: pair("user:mallory", "role:c bo", "org", openFrom, openUntil)},
		{Name: "scope of unknown kind", Rows: pair("user:mallory", "role:cbo", "city:hall", openFrom, openUntil)},
		{Name: "pre-epoch instant", Rows: pair("user:mallory", "role:cbo", "org", "-0000000000000000001", openUntil)},
		{Name: "signed instant", Rows: pair("user:mallory", "role:cbo", "org", "+0000000000000000001", openUntil)},
		{Name: "instant past int64", Rows: pair("user:mallory", "role:cbo", "org", openFrom, "09223372036854775807")},
		{Name: "short instant", Rows: pair("user:mallory", "role:cbo", "org", "0", openUntil)},
		{Name: "open-end marker as start", Rows: pair("user:mallory", "role:cbo", "org", openUntil, openUntil)},
		{Name: "open-start marker as end", Rows: pair("user:mallory", "role:cbo", "org", openFrom, openFrom)},
		{Name: "window that ends before it starts", Rows: pair("user:mallory", "role:cbo", "org", "01741953600000000000", "01741950000000000000")},
		{Name: "grant stored twice with another window", Rows: pair("user:alice", "role:cbo", "facility:hall-1", "01741946400000000000", "01741953600000000000"),
			Blocked: []rbac.Subject{"user:alice"}},
		{Name: "allow line without its deny twin", Rows: []gormstore.Rule{open("user:mallory", "role:cbo", "org", "allow")}},
		{Name: "deny line without its allow twin", Rows: []gormstore.Rule{open("user:alice", "role:clerk", "org", "deny")},
			Blocked: []rbac.Subject{"user:alice"}},
		{Name: "deny line of a group without its twin", Rows: []gormstore.Rule{open("group:clerks", "role:ap", "org", "deny")},
			Blocked: []rbac.Subject{"group:clerks", "user:bob", "user:dana"}},
		{Name: "deny line naming a deny node", Rows: []gormstore.Rule{open("user:carol", "deny:finance.budget.approve", "org", "deny")},
			Blocked: []rbac.Subject{"user:carol"}},
		{Name: "deny line of a role that denies nothing", Rows: []gormstore.Rule{open("user:carol", "role:ar", "org", "deny")}},
		{Name: "p line with an unknown effect", Rows: []gormstore.Rule{open("user:mallory", "role:cbo", "org", "permit")}},
		{Name: "p line with five values", Rows: []gormstore.Rule{{Ptype: "p", V0: "user:erin", V1: "role:cbo", V2: "org", V3: openFrom, V4: openUntil}},
			Blocked: []rbac.Subject{"user:erin"}},
		{Name: "membership with a bad group", Rows: []gormstore.Rule{{Ptype: "g", V0: "user:mallory", V1: "group:Clerks"}},
			Blocked: []rbac.Subject{"user:mallory"}},
		{Name: "group inside a group", Rows: []gormstore.Rule{{Ptype: "g", V0: "unit:it", V1: "group:clerks"}},
			Blocked: []rbac.Subject{"unit:it", "svc:permits-api"}},
		{Name: "rule with a bad permission", Rows: []gormstore.Rule{{Ptype: "g2", V0: "role:cbo", V1: "allow:Permits.application.approve"}}},
		{Name: "deny rule with a bad permission", Rows: []gormstore.Rule{{Ptype: "g2", V0: "role:ar", V1: "deny:finance..x"}},
			Blocked: []rbac.Subject{"user:carol"}},
		{Name: "inheritance of a role with no lines", Rows: []gormstore.Rule{{Ptype: "g2", V0: "role:ar", V1: "role:ghost"}}},
		{Name: "inheritance cycle", Rows: []gormstore.Rule{{Ptype: "g2", V0: "role:permit-reader", V1: "role:cbo"}},
			Blocked: []rbac.Subject{"group:clerks", "user:bob", "user:dana", "user:alice", "unit:it", "svc:permits-api"}},
		{Name: "second parent of a scope", Rows: []gormstore.Rule{{Ptype: "g3", V0: "facility:hall-1", V1: "dept:finance"}},
			Blocked: []rbac.Subject{"user:bob"}},
		{Name: "scope with a bad name", Rows: []gormstore.Rule{{Ptype: "g3", V0: "ward:7", V1: "dept:Building"}}},
		{Name: "org under a scope", Rows: []gormstore.Rule{{Ptype: "g3", V0: "org", V1: "dept:building"}},
			Blocked: []rbac.Subject{"group:clerks", "user:bob", "user:dana"}},
		{Name: "unknown policy type", Rows: []gormstore.Rule{{Ptype: "p2", V0: "user:mallory", V1: "role:cbo"}}},
	}
}

// testCorrupt stores, next to CityModel, rows the store would never write.
// Each must be quarantined with its id: the rest of the policy loads and
// decides as before, the rows grant nothing and block only what they could
// make Casbin deny; writes keep working and leave them in place; a change
// deletes them; Replace repairs the table.
func testCorrupt(t *testing.T, h Harness) {
	for _, bad := range BadRows() {
		t.Run(bad.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f, _ := seeded(t, h)
			if f.DB == nil {
				t.Skip("no database to corrupt")
			}
			rows := slices.Clone(bad.Rows)
			if err := f.DB.Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, r := range rows {
				ids = append(ids, int64(r.ID))
			}
			m, p, rev, err := f.Store.LoadCompiled(ctx, -1)
			if err != nil {
				t.Fatalf("one bad row failed the whole load: %v", err)
			}
			var got []int64
			for _, q := range m.Quarantine {
				got = append(got, q.ID)
				if q.Reason == "" || q.PType == "" {
					t.Errorf("quarantined row %d without its type or reason: %+v", q.ID, q)
				}
			}
			if !slices.Equal(got, ids) {
				t.Fatalf("quarantined rows %v, want the bad rows %v", got, ids)
			}
			quar := p.Quarantine()
			if len(quar) != len(ids) {
				t.Errorf("policy reports %d quarantined rows, want %d", len(quar), len(ids))
			}
			clean := m.Clone()
			clean.Quarantine = nil
			Equal(t, clean, CityModel(), h.KeepsText)
			agreeExcept(t, p, bad.Blocked)
			for _, s := range []rbac.Subject{"user:mallory", "user:zed"} {
				if p.Allows(s, "permits.application.approve", "org", Noon) {
					t.Errorf("%s allowed by a quarantined row", s)
				}
			}

			// An administrator can still revoke, and the bad rows stay.
			rev2, err := f.Store.Apply(ctx, rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:carol", Role: "finance-manager", Scope: "org"}}})
			if err != nil {
				t.Fatalf("revoke with a bad row stored: %v", err)
			}
			if rev2 <= rev {
				t.Errorf("revision %d after revoke, want more than %d", rev2, rev)
			}
			m2, p2, _, err := f.Store.LoadCompiled(ctx, -1)
			if err != nil {
				t.Fatal(err)
			}
			if len(m2.Quarantine) != len(ids) {
				t.Errorf("revoke changed the quarantined rows to %+v", m2.Quarantine)
			}
			if p2.Allows("user:carol", "finance.budget.approve", "org", Noon) {
				t.Error("revoked grant still allows")
			}

			// Deleting an id that is not quarantined is refused.
			if _, err := f.Store.Apply(ctx, rbac.Change{DeleteRows: []int64{ids[0] + 1000}}); !errors.Is(err, rbac.ErrNotFound) {
				t.Errorf("delete of a row that is not quarantined: %v, want ErrNotFound", err)
			}
			// And the bad rows can be deleted through the library.
			before := countRows(t, f.DB)
			rev3, err := f.Store.Apply(ctx, rbac.Change{DeleteRows: ids})
			if err != nil {
				t.Fatalf("delete quarantined rows: %v", err)
			}
			if rev3 <= rev2 {
				t.Errorf("revision %d after delete, want more than %d", rev3, rev2)
			}
			if n := countRows(t, f.DB); n != before-int64(len(ids)) {
				t.Errorf("%d rows after deleting %d of %d", n, len(ids), before)
			}
			m3, p3, _, err := f.Store.LoadCompiled(ctx, -1)
			if err != nil {
				t.Fatal(err)
			}
			if len(m3.Quarantine) != 0 || len(p3.Quarantine()) != 0 {
				t.Errorf("quarantine after delete: %+v", m3.Quarantine)
			}
			for _, s := range bad.Blocked {
				if p3.Quarantined(s) {
					t.Errorf("%s still blocked after the row was deleted", s)
				}
			}

			// Replace repairs a table with bad rows too.
			if err := f.DB.Create(slices.Clone(bad.Rows)).Error; err != nil {
				t.Fatal(err)
			}
			if _, err := f.Store.Replace(ctx, CityModel()); err != nil {
				t.Fatalf("Replace: %v", err)
			}
			s := snapshot(t, f)
			if len(s.m.Quarantine) != 0 {
				t.Errorf("quarantine after Replace: %+v", s.m.Quarantine)
			}
			Equal(t, s.m, CityModel(), h.KeepsText)
		})
	}
}

// agreeExcept checks that p decides like CityModel on Agree's grid, except
// that the blocked subjects are denied everything.
func agreeExcept(t *testing.T, p *rbac.Policy, blocked []rbac.Subject) {
	t.Helper()
	for _, s := range blocked {
		if !p.Quarantined(s) {
			t.Errorf("%s not blocked", s)
		}
	}
	want, err := rbac.Compile(CityModel())
	if err != nil {
		t.Fatal(err)
	}
	Agree(t, CityModel(), func(sub rbac.Subject, x rbac.Permission, s rbac.Scope, at time.Time) (bool, error) {
		if slices.Contains(blocked, sub) {
			if p.Allows(sub, x, s, at) {
				t.Errorf("blocked %s allowed %s at %s", sub, x, s)
			}
			return want.Allows(sub, x, s, at), nil
		}
		return p.Allows(sub, x, s, at), nil
	})
	for _, sub := range []rbac.Subject{"user:alice", "user:bob", "user:carol", "user:dana", "user:erin", "svc:permits-api", "group:clerks", "unit:it"} {
		if !slices.Contains(blocked, sub) && p.Quarantined(sub) {
			t.Errorf("%s blocked, want only %v", sub, blocked)
		}
	}
}

// testCasbinWrites lets a plain Casbin enforcer write rows through
// gorm-adapter (AddPolicy and AddNamedGroupingPolicy with the rows
// rowgen draws: assignments with well-formed and ill-formed values, lone
// allow and deny lines, memberships, role and scope edges), then compares
// a Casbin enforcer that loads the table with the store's policy over the
// same rows: the store loads whatever the rows, reports every row it
// leaves out with its id, never allows what Casbin denies, and denies what
// Casbin allows only with a row quarantined.
func testCasbinWrites(t *testing.T, h Harness) {
	ctx := context.Background()
	f := h.New(t)
	if f.DB == nil {
		t.Skip("no database for gorm-adapter to write")
	}
	reqs := rowgen.Requests()
	rng := rand.New(rand.NewPCG(9, 3))
	inputs := rowgen.Seeds()
	for len(inputs) < 40 {
		b := make([]byte, 8+rng.IntN(48))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		inputs = append(inputs, b)
	}
	compared := 0
	for n, data := range inputs {
		if err := f.DB.Exec("DELETE FROM " + gormstore.RuleTable).Error; err != nil {
			t.Fatal(err)
		}
		a, err := gormadapter.NewAdapterByDB(f.DB.Session(&gorm.Session{NewDB: true}))
		if err != nil {
			t.Fatal(err)
		}
		cm, err := casbinx.NewModel()
		if err != nil {
			t.Fatal(err)
		}
		w, err := casbin.NewEnforcer(cm, a)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range rowgen.Lines(data) {
			vals := make([]any, len(l.Values))
			for i, v := range l.Values {
				vals[i] = v
			}
			if l.PType == "p" {
				_, err = w.AddPolicy(vals...)
			} else {
				_, err = w.AddNamedGroupingPolicy(l.PType, vals...)
			}
			_ = err // Casbin may refuse a line; what it wrote is what counts
		}
		m, p, _, err := f.Store.LoadCompiled(ctx, -1)
		if err != nil {
			t.Fatalf("input %d: rows written by Casbin failed the whole load: %v", n, err)
		}
		var stored []gormstore.Rule
		if err := f.DB.Find(&stored).Error; err != nil {
			t.Fatal(err)
		}
		for _, q := range m.Quarantine {
			i := slices.IndexFunc(stored, func(r gormstore.Rule) bool { return int64(r.ID) == q.ID })
			if i < 0 {
				t.Errorf("input %d: quarantined row %d is not stored", n, q.ID)
				continue
			}
			r := stored[i]
			if got := []string{r.Ptype, r.V0, r.V1, r.V2, r.V3, r.V4, r.V5}; !slices.Equal(got[:1+len(q.Values)], append([]string{q.PType}, q.Values...)) {
				t.Errorf("input %d: quarantined row %d reported as %s %v, stored as %v", n, q.ID, q.PType, q.Values, got)
			}
		}
		cm2, err := casbinx.NewModel()
		if err != nil {
			t.Fatal(err)
		}
		e, err := casbin.NewEnforcer(cm2, a)
		if err != nil {
			continue // Casbin cannot load these rows itself: no reference answer
		}
		if err := casbinx.Configure(e); err != nil {
			continue
		}
		if rowgen.Compare(t, p, func(r rowgen.Request) (bool, error) {
			return casbinx.Enforce(e, r.Subject, r.Permission, r.Scope, r.At)
		}, reqs) {
			compared++
		}
	}
	if compared < len(inputs)/2 {
		t.Errorf("Casbin decided over only %d of %d row sets: the generator is too hostile to compare", compared, len(inputs))
	}
}

// testInstants writes grants at the edges of what the line format holds:
// the instant just after the Unix epoch and just before instant.Latest() round-
// trip exactly; the epoch itself, instants before it and instants at or
// after instant.Latest() are refused with rbac.ErrInvalidInput at write time,
// by Apply and by Replace, and leave the store unchanged.
func testInstants(t *testing.T, h Harness) {
	ctx := context.Background()
	f, _ := seeded(t, h)
	epoch := time.Unix(0, 0).UTC()
	last := instant.Latest().Add(-time.Nanosecond)
	for _, w := range [][2]time.Time{
		{epoch.Add(time.Nanosecond), epoch.Add(2 * time.Nanosecond)},
		{epoch.Add(time.Nanosecond), time.Time{}},
		{time.Time{}, epoch.Add(time.Nanosecond)},
		{last.Add(-time.Nanosecond), last},
		{Noon.Add(time.Nanosecond), time.Time{}},
	} {
		g := rbac.Grant{Subject: "user:zoe", Role: "clerk", Scope: "org", NotBefore: w[0], NotAfter: w[1]}
		// Made at the epoch, so that no window here has ended yet.
		if _, err := f.Store.Apply(ctx, rbac.Change{At: epoch, Grant: []rbac.Grant{g}}); err != nil {
			t.Fatalf("grant %v..%v: %v", w[0], w[1], err)
		}
		m, _, err := f.Store.LoadPolicy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(m.Grants, func(x rbac.Grant) bool { return x.Key() == g.Key() })
		if i < 0 {
			t.Fatalf("grant %v..%v did not come back", w[0], w[1])
		}
		if got := m.Grants[i]; !got.NotBefore.Equal(w[0]) || !got.NotAfter.Equal(w[1]) || got.NotBefore.IsZero() != w[0].IsZero() || got.NotAfter.IsZero() != w[1].IsZero() {
			t.Errorf("window %v..%v came back as %v..%v", w[0], w[1], got.NotBefore, got.NotAfter)
		}
		if len(m.Quarantine) != 0 {
			t.Errorf("our own write was quarantined: %+v", m.Quarantine)
		}
		if _, err := f.Store.Apply(ctx, rbac.Change{Revoke: []rbac.GrantKey{g.Key()}}); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, f)
	for _, w := range [][2]time.Time{
		{epoch, time.Time{}},
		{epoch, epoch.Add(time.Hour)},
		{time.Time{}, epoch},
		{epoch.Add(-time.Nanosecond), time.Time{}},
		{time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC), time.Date(1969, 7, 21, 0, 0, 0, 0, time.UTC)},
		{time.Time{}, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC), time.Time{}},
		{Noon, instant.Latest()},
		{Noon, instant.Latest().Add(time.Hour)},
		{instant.Latest(), time.Time{}},
	} {
		g := rbac.Grant{Subject: "user:zoe", Role: "clerk", Scope: "org", NotBefore: w[0], NotAfter: w[1]}
		if _, err := f.Store.Apply(ctx, rbac.Change{Grant: []rbac.Grant{g}}); !errors.Is(err, rbac.ErrInvalidInput) {
			t.Errorf("Apply of window %v..%v: %v, want ErrInvalidInput", w[0], w[1], err)
		}
		m := CityModel()
		m.Grants = append(m.Grants, g)
		if _, err := f.Store.Replace(ctx, m); !errors.Is(err, rbac.ErrInvalidInput) {
			t.Errorf("Replace with window %v..%v: %v, want ErrInvalidInput", w[0], w[1], err)
		}
	}
	assertUnchanged(t, f, before, h.KeepsText)
}

func testUnmigrated(t *testing.T, h Harness) {
	ctx := context.Background()
	s, db := h.Unmigrated(t)
	hasTables := func() (rule, rev bool) {
		return db.Migrator().HasTable(gormstore.RuleTable), db.Migrator().HasTable(gormstore.RevisionTable)
	}
	if rule, rev := hasTables(); rule || rev {
		t.Fatalf("New created tables: %s %v, %s %v", gormstore.RuleTable, rule, gormstore.RevisionTable, rev)
	}
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, gormstore.ErrNotMigrated) {
			t.Errorf("%s on an unmigrated database: err = %v, want ErrNotMigrated", op, err)
			return
		}
		if !strings.Contains(err.Error(), "Migrate") {
			t.Errorf("%s: error does not say to run Migrate: %v", op, err)
		}
	}
	_, _, err := s.LoadPolicy(ctx)
	check("LoadPolicy", err)
	_, err = s.Apply(ctx, rbac.Change{AddPermissions: []rbac.Permission{"permits.application.read"}})
	check("Apply", err)
	_, err = s.Replace(ctx, CityModel())
	check("Replace", err)
	if rule, rev := hasTables(); rule || rev {
		t.Fatalf("a store call created tables: %s %v, %s %v", gormstore.RuleTable, rule, gormstore.RevisionTable, rev)
	}

	for range 2 { // idempotent
		if err := h.Migrate(ctx, db); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	if rule, rev := hasTables(); !rule || !rev {
		t.Fatalf("Migrate did not create both tables: %v %v", rule, rev)
	}
	if !db.Migrator().HasIndex(&gormstore.Rule{}, gormstore.RuleIndex) {
		t.Errorf("Migrate did not create gorm-adapter's index %s", gormstore.RuleIndex)
	}
	m, rev, err := s.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rev != 0 {
		t.Errorf("freshly migrated database at revision %d, want 0", rev)
	}
	Equal(t, m, rbac.Model{}, false)
	if rev, err = s.Replace(ctx, CityModel()); err != nil || rev != 1 {
		t.Fatalf("Replace after Migrate: revision %d, %v", rev, err)
	}
	if err := h.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate on a database with data: %v", err)
	}
	if _, rev, err = s.LoadPolicy(ctx); err != nil || rev != 1 {
		t.Errorf("Migrate touched the data: revision %d, %v", rev, err)
	}

	// A revision table without its row is reported the same way.
	if err := db.Exec("DELETE FROM " + gormstore.RevisionTable).Error; err != nil {
		t.Fatal(err)
	}
	_, _, err = s.LoadPolicy(ctx)
	check("LoadPolicy without the revision row", err)
	_, err = s.Apply(ctx, rbac.Change{AddPermissions: []rbac.Permission{"permits.application.read"}})
	check("Apply without the revision row", err)
}

// testExpectedGrants checks that a store compares rbac.Change.ExpectGrants
// with what it holds in the transaction that writes the change: a writer
// (the reaper) that read a grant cannot revoke it once someone else has
// changed it, and the grant survives; as read, it can.
func testExpectedGrants(t *testing.T, h Harness) {
	ctx := context.Background()
	f, _ := seeded(t, h)
	other := f.Store
	if f.Second != nil {
		other = f.Second // another process extends the grant
	}
	m, _, err := f.Store.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := rbac.GrantKey{Subject: "user:alice", Role: "cbo", Scope: "facility:hall-1"}
	i := slices.IndexFunc(m.Grants, func(g rbac.Grant) bool { return g.Key() == key })
	if i < 0 {
		t.Fatalf("fixture lacks %s", key)
	}
	read := m.Grants[i]
	extended := read
	extended.NotAfter = read.NotAfter.Add(48 * time.Hour)
	if _, err := other.Apply(ctx, rbac.Change{At: Noon, Revoke: []rbac.GrantKey{key}, Grant: []rbac.Grant{extended}}); err != nil {
		t.Fatalf("extend: %v", err)
	}
	before := snapshot(t, f)
	_, err = f.Store.Apply(ctx, rbac.Change{At: Noon.Add(2 * time.Hour), Revoke: []rbac.GrantKey{key}, ExpectGrants: []rbac.Grant{read}})
	var ce *rbac.ChangedError
	if !errors.Is(err, rbac.ErrChanged) || !errors.As(err, &ce) || ce.Grant != key {
		t.Fatalf("revoke of a grant extended since it was read: %v, want rbac.ErrChanged naming %s", err, key)
	}
	assertUnchanged(t, f, before, h.KeepsText)
	// A grant revoked since it was read is changed too.
	_, err = f.Store.Apply(ctx, rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:bob", Role: "ap", Scope: "dept:finance"}},
		ExpectGrants: []rbac.Grant{read, {Subject: "user:zed", Role: "ap", Scope: "dept:finance"}}})
	if !errors.Is(err, rbac.ErrChanged) {
		t.Fatalf("expectation of a missing grant: %v, want rbac.ErrChanged", err)
	}
	assertUnchanged(t, f, before, h.KeepsText)
	// As stored, the revoke goes through.
	m, _, err = f.Store.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i = slices.IndexFunc(m.Grants, func(g rbac.Grant) bool { return g.Key() == key })
	if _, err := f.Store.Apply(ctx, rbac.Change{Revoke: []rbac.GrantKey{key}, ExpectGrants: []rbac.Grant{m.Grants[i]}}); err != nil {
		t.Fatalf("revoke of the grant as stored: %v", err)
	}
}

// testGrantWriteRules checks that a store refuses, at the instant of the
// change, a grant whose window has ended and a grant at an undeclared scope
// (unless the model opts into implicit scopes, which it stores).
func testGrantWriteRules(t *testing.T, h Harness) {
	ctx := context.Background()
	f, _ := seeded(t, h)
	before := snapshot(t, f)
	ended := rbac.Grant{Subject: "user:zoe", Role: "clerk", Scope: "dept:building", NotBefore: Noon.Add(-2 * time.Hour), NotAfter: Noon}
	if _, err := f.Store.Apply(ctx, rbac.Change{At: Noon, Grant: []rbac.Grant{ended}}); !errors.Is(err, rbac.ErrInvalidInput) {
		t.Errorf("grant ended at the change: %v, want rbac.ErrInvalidInput", err)
	}
	// A store fills in the current time: a window of 2025 has ended.
	if _, err := f.Store.Apply(ctx, rbac.Change{Grant: []rbac.Grant{ended}}); !errors.Is(err, rbac.ErrInvalidInput) {
		t.Errorf("grant ended before now: %v, want rbac.ErrInvalidInput", err)
	}
	typo := rbac.Grant{Subject: "user:zoe", Role: "clerk", Scope: "dept:buildng"}
	if _, err := f.Store.Apply(ctx, rbac.Change{Grant: []rbac.Grant{typo}}); !errors.Is(err, rbac.ErrInvalidInput) {
		t.Errorf("grant at an undeclared scope: %v, want rbac.ErrInvalidInput", err)
	}
	assertUnchanged(t, f, before, h.KeepsText)
	on := true
	if _, err := f.Store.Apply(ctx, rbac.Change{ImplicitScopes: &on}); err != nil {
		t.Fatalf("opt into implicit scopes: %v", err)
	}
	if _, err := f.Store.Apply(ctx, rbac.Change{Grant: []rbac.Grant{typo}}); err != nil {
		t.Fatalf("grant at an implicit scope: %v", err)
	}
	m, _, err := f.Store.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !m.ImplicitScopes {
		t.Error("the implicit-scopes opt-in was not stored")
	}
}

// testEmergencyReplace checks that a bulk Replace is held to the cap on
// continuous emergency access, as Apply is: back-to-back windows of one
// person are refused and leave the store unchanged.
func testEmergencyReplace(t *testing.T, h Harness) {
	ctx := context.Background()
	f, _ := seeded(t, h)
	before := snapshot(t, f)
	now := time.Now().UTC().Truncate(time.Second)
	m := CityModel()
	m.Roles = append(m.Roles, rbac.Role{ID: "eoc", Emergency: true, Permissions: []rbac.Permission{"fire.apparatus.dispatch"}})
	first := rbac.Grant{Subject: "user:eve", Role: "eoc", Scope: "org", NotBefore: now.Add(time.Hour), NotAfter: now.Add(25 * time.Hour)}
	second := rbac.Grant{Subject: "group:clerks", Role: "eoc", Scope: "dept:building", NotBefore: now.Add(25 * time.Hour), NotAfter: now.Add(26 * time.Hour)}
	m.Members = append(m.Members, rbac.Membership{Member: "user:eve", Group: "group:clerks"})
	m.Grants = append(m.Grants, first, second)
	if _, err := f.Store.Replace(ctx, m); !errors.Is(err, rbac.ErrEmergency) {
		t.Fatalf("Replace with back-to-back emergency windows: %v, want rbac.ErrEmergency", err)
	}
	assertUnchanged(t, f, before, h.KeepsText)
	m.Grants = m.Grants[:len(m.Grants)-1]
	if _, err := f.Store.Replace(ctx, m); err != nil {
		t.Fatalf("Replace with one emergency window: %v", err)
	}
}

// sodBase is a policy where user:ivan holds po-approver and, since before
// the rule po was added, po-creator until a day from now (a grandfathered
// violation); user:gina is in group:buyers and hank in unit:procurement.
func sodBase(now time.Time) (before, withRule rbac.Model) {
	m := rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:finance"}, {Scope: "dept:parks"}},
		Roles: []rbac.Role{
			{ID: "po-creator", Permissions: []rbac.Permission{"finance.po.create"}},
			{ID: "po-approver", Permissions: []rbac.Permission{"finance.po.approve"}},
			{ID: "clerk", Permissions: []rbac.Permission{"finance.budget.read"}},
		},
		Members: []rbac.Membership{{Member: "user:gina", Group: "group:buyers"}, {Member: "user:hank", Group: "unit:procurement"}},
		Grants: []rbac.Grant{
			{Subject: "user:ivan", Role: "po-approver", Scope: "dept:finance"},
			{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotAfter: now.Add(24 * time.Hour)},
			{Subject: "user:ivan", Role: "clerk", Scope: "dept:finance"},
			{Subject: "group:buyers", Role: "po-creator", Scope: "dept:finance"},
			{Subject: "unit:procurement", Role: "po-creator", Scope: "org"},
		},
	}
	r := m.Clone()
	r.Conflicts = []rbac.ConflictRule{{ID: "po", Roles: [2]rbac.RoleID{"po-creator", "po-approver"}}}
	return m, r
}

// testReplaceShapes checks that Replace refuses, and leaves the store
// as it was, every model that creates or enlarges a violation: through a
// group or org unit joined, a role that comes to inherit a side, a waiver
// that has lapsed or not begun, a grandfathered violation extended.
func testReplaceShapes(t *testing.T, h Harness) {
	ctx := context.Background()
	now := time.Now()
	before, withRule := sodBase(now)
	edit := func(f func(m *rbac.Model)) rbac.Model { m := withRule.Clone(); f(&m); return m }
	waiver := func(from, until time.Time) func(m *rbac.Model) {
		return func(m *rbac.Model) {
			m.Grants = append(m.Grants, rbac.Grant{Subject: "user:gina", Role: "po-approver", Scope: "dept:parks"})
			m.Waivers = []rbac.Waiver{{Rule: "po", Subject: "user:gina", ApprovedBy: "user:cfo", Reason: "r", NotBefore: from, NotAfter: until}}
		}
	}
	refused := map[string]rbac.Model{
		"joins a group holding a side": edit(func(m *rbac.Model) {
			m.Members = append(m.Members, rbac.Membership{Member: "user:ivan", Group: "group:buyers"})
		}),
		"joins an org unit holding a side": edit(func(m *rbac.Model) {
			m.Members = append(m.Members, rbac.Membership{Member: "user:ivan", Group: "unit:procurement"})
		}),
		"a role he holds inherits a side":   edit(func(m *rbac.Model) { m.Roles[2].Inherits = []rbac.RoleID{"po-creator"} }),
		"grandfathered violation extended":  edit(func(m *rbac.Model) { m.Grants[1].NotAfter = now.Add(48 * time.Hour) }),
		"grandfathered violation made open": edit(func(m *rbac.Model) { m.Grants[1].NotAfter = time.Time{} }),
		"grandfathered violation widened":   edit(func(m *rbac.Model) { m.Grants[1].Scope = "org" }),
		"a member of a group granted the other side": edit(func(m *rbac.Model) {
			m.Grants = append(m.Grants, rbac.Grant{Subject: "group:buyers", Role: "po-approver", Scope: "dept:parks"})
		}),
		"under a lapsed waiver":    edit(waiver(now.Add(-2*time.Hour), now.Add(-time.Hour))),
		"under a waiver not begun": edit(waiver(now.Add(time.Hour), now.Add(2*time.Hour))),
	}
	for name, m := range refused {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := storeWith(t, h, before)
			// The rule arrives over the existing violation.
			if _, err := s.Replace(ctx, withRule); err != nil {
				t.Fatalf("adding the rule over a grandfathered violation: %v", err)
			}
			was, _, err := s.LoadPolicy(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Replace(ctx, m); !errors.Is(err, rbac.ErrConflict) {
				t.Fatalf("Replace: %v, want rbac.ErrConflict", err)
			}
			got, _, err := s.LoadPolicy(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest() != was.Digest() {
				t.Errorf("a refused Replace changed the store")
			}
		})
	}
	// A waiver in force permits it.
	s := storeWith(t, h, before)
	if _, err := s.Replace(ctx, edit(waiver(now.Add(-time.Hour), time.Time{}))); err != nil {
		t.Errorf("Replace under a waiver in force: %v", err)
	}
}

// storeWith returns a fresh store of h holding m.
func storeWith(t *testing.T, h Harness, m rbac.Model) Store {
	t.Helper()
	s := h.New(t).Store
	if _, err := s.Replace(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return s
}

// testSchema creates casbin_rule twice on empty databases, once with the
// store's Migrate and once with gorm-adapter's own migration, and compares
// the two tables: every column's name, type, length, nullability, default
// and key, and every index's name, columns and uniqueness (on SQLite, the
// stored CREATE TABLE text too). The stores declare the row themselves
// (gormstore.Rule) so as not to link gorm-adapter; this is what keeps the
// declaration gorm-adapter's.
func testSchema(t *testing.T, h Harness) {
	ctx := context.Background()
	_, ours := h.Unmigrated(t)
	if err := h.Migrate(ctx, ours); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	_, theirs := h.Unmigrated(t)
	if _, err := gormadapter.NewAdapterByDB(theirs.Session(&gorm.Session{NewDB: true})); err != nil {
		t.Fatalf("gormadapter.NewAdapterByDB on an empty database: %v", err)
	}
	if got, want := describeRules(t, ours), describeRules(t, theirs); !slices.Equal(got, want) {
		t.Errorf("casbin_rule differs from gorm-adapter's:\n ours: %q\ntheirs: %q", got, want)
	}
}

// describeRules lists what defines casbin_rule in db, one string per
// column and index, sorted.
func describeRules(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	m := db.Migrator()
	cols, err := m.ColumnTypes(gormstore.RuleTable)
	if err != nil {
		t.Fatalf("column types: %v", err)
	}
	var out []string
	for _, c := range cols {
		length, _ := c.Length()
		nullable, _ := c.Nullable()
		pk, _ := c.PrimaryKey()
		auto, _ := c.AutoIncrement()
		def, _ := c.DefaultValue()
		unique, _ := c.Unique()
		out = append(out, fmt.Sprintf("column %s %s(%d) nullable=%v pk=%v auto=%v unique=%v default=%q",
			c.Name(), strings.ToLower(c.DatabaseTypeName()), length, nullable, pk, auto, unique, def))
	}
	idx, err := m.GetIndexes(gormstore.RuleTable)
	if err != nil {
		t.Fatalf("indexes: %v", err)
	}
	for _, i := range idx {
		unique, _ := i.Unique()
		pk, _ := i.PrimaryKey()
		out = append(out, fmt.Sprintf("index %s %v unique=%v pk=%v", i.Name(), i.Columns(), unique, pk))
	}
	if db.Dialector.Name() == "sqlite" {
		var rows []struct{ Type, SQL string }
		if err := db.Raw("SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND type = 'table'", gormstore.RuleTable).Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out = append(out, r.Type+" "+r.SQL)
		}
	}
	if len(cols) == 0 || len(idx) == 0 {
		t.Errorf("casbin_rule has %d columns and %d indexes", len(cols), len(idx))
	}
	slices.Sort(out)
	return out
}
