package iam_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

var scopeOracleSeed = flag.Uint64("scope-oracle.seed", 20250314, "seed of TestRecordsDecideLikeCheck")

// The scope tree of the oracle tests: facilities under departments and
// under a ward, a ward under a department, and scopes that only grants name.
var (
	orDepts      = []string{"a", "b", "z"} // z is known only if a grant names it
	orWards      = []string{"1", "2", "9"}
	orFacilities = []string{"x", "y", "w"}
	orTree       = []rbac.ScopeNode{
		{Scope: "dept:a"}, {Scope: "dept:b"},
		{Scope: "ward:1"}, {Scope: "ward:2", Parent: "dept:b"},
		{Scope: "facility:x", Parent: "dept:a"}, {Scope: "facility:y", Parent: "ward:1"}, {Scope: "facility:w", Parent: "ward:2"},
	}
	orPerms    = []rbac.Permission{"m.e.read", "m.e.write", "m.f.read", "n.e.read"}
	orRules    = []rbac.Permission{"m.e.read", "m.e.write", "m.f.read", "n.e.read", "m.*", "m.e.*", "n.*"}
	orHolders  = []rbac.Subject{"user:u1", "svc:u1", "user:u2", "group:g1", "unit:o1"}
	orSubjects = []rbac.Subject{"user:u1", "svc:u1", "user:u2", "user:u3"}
)

// orScope returns a random scope: org, or a department, ward or facility,
// known or not.
func orScope(r *rand.Rand) rbac.Scope {
	switch r.IntN(7) {
	case 0:
		return rbac.OrgScope
	case 1, 2:
		return rbac.Scope("dept:" + orDepts[r.IntN(len(orDepts))])
	case 3, 4:
		return rbac.Scope("ward:" + orWards[r.IntN(len(orWards))])
	}
	return rbac.Scope("facility:" + orFacilities[r.IntN(len(orFacilities))])
}

// orModel returns a random policy over the oracle tree: roles with allow
// and deny rules (wildcards included) and inheritance, grants to users,
// service accounts, groups and units at every level, some with windows.
func orModel(r *rand.Rand, now time.Time) rbac.Model {
	m := rbac.Model{
		Scopes:  orTree,
		Members: []rbac.Membership{{Member: "user:u1", Group: "group:g1"}, {Member: "user:u2", Group: "unit:o1"}, {Member: "svc:u1", Group: "unit:o1"}},
	}
	n := 2 + r.IntN(5)
	for i := range n {
		role := rbac.Role{ID: rbac.RoleID(fmt.Sprintf("r%d", i))}
		for range 1 + r.IntN(2) {
			role.Permissions = append(role.Permissions, orRules[r.IntN(len(orRules))])
		}
		if r.IntN(4) == 0 {
			role.Deny = append(role.Deny, orRules[r.IntN(len(orRules))])
		}
		if i > 0 && r.IntN(2) == 0 {
			role.Inherits = append(role.Inherits, rbac.RoleID(fmt.Sprintf("r%d", r.IntN(i))))
		}
		m.Roles = append(m.Roles, role)
	}
	seen := map[rbac.GrantKey]bool{}
	for range 2 + r.IntN(8) {
		g := rbac.Grant{Subject: orHolders[r.IntN(len(orHolders))], Role: m.Roles[r.IntN(n)].ID, Scope: orScope(r)}
		switch r.IntN(6) {
		case 0:
			g.NotAfter = now.Add(-time.Hour)
		case 1:
			g.NotBefore = now.Add(-time.Hour)
			g.NotAfter = now.Add(time.Hour)
		case 2:
			g.NotBefore = now.Add(time.Hour)
		}
		if !seen[g.Key()] {
			seen[g.Key()] = true
			m.Grants = append(m.Grants, g)
		}
	}
	return m
}

// orRecord returns a random record: either a record placed in a random
// scope with the fields of every scope above it filled in (as a row of a
// facility carries its department), or independent fields; then some fields
// are made NULL, unknown, malformed or of another type.
func orRecord(r *rand.Rand, m rbac.Model) abac.Map {
	rec := abac.Map{}
	field := map[rbac.ScopeKind]string{rbac.Dept: "department", rbac.Ward: "ward", rbac.Facility: "facility"}
	if r.IntN(2) == 0 {
		parent := map[rbac.Scope]rbac.Scope{}
		for _, n := range m.Scopes {
			parent[n.Scope] = n.Parent
		}
		for s := orScope(r); s != "" && s != rbac.OrgScope; s = parent[s] {
			rec[field[s.Kind()]] = s.ID()
		}
	} else {
		for _, f := range []struct {
			name string
			ids  []string
		}{{"department", orDepts}, {"ward", orWards}, {"facility", orFacilities}} {
			if r.IntN(3) > 0 {
				rec[f.name] = f.ids[r.IntN(len(f.ids))]
			}
		}
	}
	for _, f := range []string{"department", "ward", "facility"} {
		switch r.IntN(12) {
		case 0:
			delete(rec, f)
		case 1:
			rec[f] = nil
		case 2:
			rec[f] = "unknown"
		case 3:
			rec[f] = "A" // not a scope id at all
		case 4:
			rec[f] = int64(1) // not text
		}
	}
	return rec
}

// checkOracle decides rec by [iam.Authorizer.Check]: the record is in the
// known scopes its fields name, and in org. It is allowed when Check allows
// at one of them and denies by a deny rule at none; and, failing closed, it
// is denied by every deny in force at a scope of kind k when no field
// places it at a known scope of kind k or beneath one (its field for k is
// NULL, unknown or not text, and no other field tells its scope of kind
// k), and when a field of a kind a deny reaches holds a value that is
// neither text nor NULL.
//
// noColumn, when not empty, is a kind of scope the records have no field
// for ([iam.NoColumn]): the field is not read, and a deny at that kind
// removes only the records placed beneath it.
func checkOracle(t testing.TB, a *iam.Authorizer, p *rbac.Policy, sub rbac.Subject, x rbac.Permission, rec abac.Record, now time.Time, noColumn rbac.ScopeKind) bool {
	t.Helper()
	ctx := context.Background()
	base := []rbac.Scope{rbac.OrgScope}
	for kind, f := range map[rbac.ScopeKind]string{rbac.Dept: "department", rbac.Ward: "ward", rbac.Facility: "facility"} {
		if kind == noColumn {
			continue
		}
		v, ok := abac.Text(rec, f)
		s := rbac.Scope(string(kind) + ":" + v)
		if !ok || s.Validate() != nil || !p.KnowsScope(s) {
			continue
		}
		base = append(base, s)
	}
	allowed := false
	for _, s := range base {
		d, err := a.Check(ctx, sub, x, s)
		if err != nil {
			t.Fatalf("Check(%s, %s, %s): %v", sub, x, s, err)
		}
		if d.Reason == rbac.ReasonDenyRule.String() {
			return false
		}
		allowed = allowed || d.Allowed
	}
	f, err := p.GrantsInForce(sub, x, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range f.Grants {
		if !b.Denies {
			continue
		}
		// A record that cannot be placed at a scope of the denied kind
		// cannot be shown to lie outside the denied scope.
		kind := b.Grant.Scope.Kind()
		placed := kind == noColumn
		for _, s := range base[1:] {
			placed = placed || slices.ContainsFunc(p.ScopeLineage(s), func(anc rbac.Scope) bool { return anc.Kind() == kind })
		}
		if !placed {
			return false
		}
		// A field of a kind the deny reaches that holds neither text nor
		// NULL cannot be shown to lie outside the denied scope.
		for _, s := range p.Beneath(b.Grant.Scope) {
			if s.Kind() == noColumn {
				continue
			}
			f := map[rbac.ScopeKind]string{rbac.Dept: "department", rbac.Ward: "ward", rbac.Facility: "facility"}[s.Kind()]
			null := abac.FromConj(abac.Conj{{Field: f, Op: abac.OpIsNull}}).Match(rec)
			if _, text := abac.Text(rec, f); !text && !null {
				return false
			}
		}
	}
	return allowed
}

// TestRecordsDecideLikeCheck is the oracle test of data scopes without data
// rules: for random policies (a scope tree with facilities under
// departments and wards, denies at parents, wildcards, windows), random
// records (NULL, unknown, malformed and non-text scope fields) and random
// subjects (a user and a service account with the same id, group and unit
// members), Filter.Match, CheckRecord and the Check oracle agree.
func TestRecordsDecideLikeCheck(t *testing.T) {
	t.Parallel()
	seed := *scopeOracleSeed
	t.Logf("seed %d (rerun with: go test ./iam -run TestRecordsDecideLikeCheck -args -scope-oracle.seed=%d)", seed, seed)
	policies := 150
	if testing.Short() || raceBuild() {
		policies = 30
	}
	r := rand.New(rand.NewPCG(seed, 0x0c1e))
	allowed, decided := 0, 0
	for p := range policies {
		m := orModel(r, dsNoon)
		recs := make([]abac.Map, 30)
		for i := range recs {
			recs[i] = orRecord(r, m)
		}
		a, d := agreeWithCheck(t, m, recs)
		allowed += a
		decided += d
		if t.Failed() {
			t.Fatalf("policy %d failed", p)
		}
	}
	t.Logf("%d decisions, %d allowed", decided, allowed)
	if allowed == 0 || allowed == decided {
		t.Errorf("degenerate test: %d of %d allowed", allowed, decided)
	}
}

// agreeWithCheck checks every subject, permission and record of one
// policy, and returns how many records were allowed and decided.
func agreeWithCheck(t testing.TB, m rbac.Model, recs []abac.Map) (allowed, decided int) {
	t.Helper()
	p, err := rbac.Compile(m)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	a, sc := newScoped(t, m, iam.DataScopes{})
	// The same records in tables that have no field for one kind of scope.
	scopers := map[rbac.ScopeKind]*iam.Scoper{"": sc}
	for _, k := range []rbac.ScopeKind{rbac.Dept, rbac.Ward, rbac.Facility} {
		var fields iam.ScopeFields
		switch k {
		case rbac.Dept:
			fields.Dept = iam.NoColumn
		case rbac.Ward:
			fields.Ward = iam.NoColumn
		case rbac.Facility:
			fields.Facility = iam.NoColumn
		}
		var err error
		if scopers[k], err = verifiedScoper(a, iam.DataScopes{Fields: fields}); err != nil {
			t.Fatal(err)
		}
	}
	for noColumn, sc := range scopers {
		for _, sub := range orSubjects {
			a, d := agreeWithCheckFor(t, a, p, m, sc, noColumn, sub, recs)
			allowed += a
			decided += d
			if t.Failed() {
				return
			}
		}
	}
	return allowed, decided
}

// agreeWithCheckFor checks one subject's records through one Scoper.
func agreeWithCheckFor(t testing.TB, a *iam.Authorizer, p *rbac.Policy, m rbac.Model, sc *iam.Scoper, noColumn rbac.ScopeKind, sub rbac.Subject, recs []abac.Map) (allowed, decided int) {
	t.Helper()
	ctx := context.Background()
	for _, x := range orPerms {
		f, err := a.Filter(ctx, sub, x, sc)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			want := checkOracle(t, a, p, sub, x, rec, dsNoon, noColumn)
			got, err := a.CheckRecord(ctx, sub, x, sc, rec)
			if err != nil {
				t.Fatal(err)
			}
			decided++
			if want {
				allowed++
			}
			if got.Allowed != want || f.Match(rec) != want {
				t.Errorf("no column for %q: %s %s on %v: Check oracle %v, CheckRecord %v (%s), Filter %v admits %v\nmodel %+v",
					noColumn, sub, x, rec, want, got.Allowed, got.Reason, f, f.Match(rec), m)
				return
			}
		}
	}
	return allowed, decided
}

// FuzzRecordsDecideLikeCheck is TestRecordsDecideLikeCheck driven by the
// fuzzer's choice of seed.
func FuzzRecordsDecideLikeCheck(f *testing.F) {
	for _, s := range []uint64{0, 1, 7, 42, 20250314, 1 << 40} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 0xf022))
		m := orModel(r, dsNoon)
		recs := make([]abac.Map, 12)
		for i := range recs {
			recs[i] = orRecord(r, m)
		}
		agreeWithCheck(t, m, recs)
	})
}

// TestFilterScopeTreeAndNulls pins the cases the oracle test explores.
func TestFilterScopeTreeAndNulls(t *testing.T) {
	t.Parallel()
	m := rbac.Model{
		Scopes: orTree,
		Roles: []rbac.Role{
			{ID: "reader", Permissions: []rbac.Permission{"m.e.read"}},
			{ID: "blocked", Deny: []rbac.Permission{"m.*"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:dept", Role: "reader", Scope: "dept:a"},
			{Subject: "user:org", Role: "reader", Scope: "org"},
			{Subject: "user:orgdeny", Role: "reader", Scope: "org"},
			{Subject: "user:orgdeny", Role: "blocked", Scope: "dept:b"},
			{Subject: "user:u1", Role: "reader", Scope: "ward:1"},
		},
	}
	a, sc := newScoped(t, m, iam.DataScopes{})
	ctx := context.Background()
	for _, tt := range []struct {
		sub  iam.Subject
		rec  abac.Map
		want bool
	}{
		// A grant at a department covers the facilities beneath it, even
		// when the record's department field is empty or wrong.
		{"user:dept", abac.Map{"facility": "x"}, true},
		{"user:dept", abac.Map{"department": nil, "facility": "x"}, true},
		{"user:dept", abac.Map{"department": "a"}, true},
		{"user:dept", abac.Map{"department": "b", "facility": "y"}, false},
		// A record that cannot be placed is outside every grant but org.
		{"user:dept", abac.Map{}, false},
		{"user:dept", abac.Map{"department": nil, "ward": nil, "facility": nil}, false},
		{"user:dept", abac.Map{"department": "A"}, false},
		{"user:dept", abac.Map{"department": "zzz"}, false},
		{"user:org", abac.Map{}, true},
		// A deny at a department removes its facilities and wards, through
		// whichever field places the record there: a NULL department does
		// not let a record beneath it through.
		{"user:orgdeny", abac.Map{"department": "b"}, false},
		{"user:orgdeny", abac.Map{"department": nil, "facility": "w"}, false}, // w is under ward:2 under dept:b
		{"user:orgdeny", abac.Map{"ward": "2"}, false},
		{"user:orgdeny", abac.Map{"department": "a", "ward": "2"}, false},
		{"user:orgdeny", abac.Map{"department": int64(7)}, false}, // not text: cannot be shown outside dept:b
		// A record whose department cannot be told is denied by every
		// deny at a department: its field is NULL, unknown or not text, and
		// no other field places it beneath a department (ward 1 and
		// facility y are under no department).
		{"user:orgdeny", abac.Map{"department": nil, "ward": "1"}, false},
		{"user:orgdeny", abac.Map{"facility": "y"}, false},
		{"user:orgdeny", abac.Map{"department": "unknown"}, false},
		{"user:orgdeny", abac.Map{"department": "A", "ward": "1"}, false},
		{"user:orgdeny", abac.Map{}, false},
		{"user:orgdeny", abac.Map{"department": nil, "ward": nil, "facility": nil}, false},
		{"user:orgdeny", abac.Map{"department": "a"}, true},
		{"user:orgdeny", abac.Map{"department": "a", "ward": nil}, true},
		{"user:orgdeny", abac.Map{"facility": "x"}, true}, // x is under dept:a
		{"user:orgdeny", abac.Map{"department": nil, "facility": "x"}, true},
		// svc:u1 is not user:u1.
		{"svc:u1", abac.Map{"ward": "1"}, false},
		{"user:u1", abac.Map{"ward": "1"}, true},
		{"user:u1", abac.Map{"facility": "y"}, true},
	} {
		f, err := a.Filter(ctx, tt.sub, "m.e.read", sc)
		if err != nil {
			t.Fatal(err)
		}
		d, err := a.CheckRecord(ctx, tt.sub, "m.e.read", sc, tt.rec)
		if err != nil {
			t.Fatal(err)
		}
		if f.Match(tt.rec) != tt.want || d.Allowed != tt.want {
			t.Errorf("%s on %v: Filter %v admits %v, CheckRecord %v (%s); want %v", tt.sub, tt.rec, f, f.Match(tt.rec), d.Allowed, d.Reason, tt.want)
		}
	}
	if f, _ := a.Filter(ctx, "user:orgdeny", "m.e.read", sc); slices.Contains([]string{"all", "none"}, f.String()) {
		t.Errorf("org grant less a deny: %v", f)
	}
}
