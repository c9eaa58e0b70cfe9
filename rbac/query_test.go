package rbac_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
)

var qNoon = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

func queryCity(t testing.TB) *rbac.Policy {
	t.Helper()
	p, err := rbac.Compile(rbac.Model{
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:social"}, {Scope: "dept:roads"},
			{Scope: "facility:shelter", Parent: "dept:social"},
			{Scope: "ward:7", Parent: "dept:social"},
			{Scope: "facility:kiosk", Parent: "ward:7"},
		},
		Roles: []rbac.Role{
			{ID: "reader", Permissions: []rbac.Permission{"social.case.read"}},
			{ID: "worker", Inherits: []rbac.RoleID{"reader"}, Permissions: []rbac.Permission{"social.case.update"}},
			{ID: "lead", Inherits: []rbac.RoleID{"worker"}, Permissions: []rbac.Permission{"social.*"}},
			{ID: "blocked", Deny: []rbac.Permission{"social.case.*"}},
			{ID: "both", Inherits: []rbac.RoleID{"reader", "blocked"}},
		},
		Members: []rbac.Membership{{Member: "user:ann", Group: "group:intake"}},
		Grants: []rbac.Grant{
			{Subject: "user:ann", Role: "worker", Scope: "dept:social"},
			{Subject: "user:ann", Role: "blocked", Scope: "ward:7", NotBefore: qNoon.Add(time.Hour)},
			{Subject: "group:intake", Role: "reader", Scope: "dept:roads", NotAfter: qNoon.Add(2 * time.Hour)},
			{Subject: "user:ann", Role: "both", Scope: "dept:parks"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGrantsInForce(t *testing.T) {
	t.Parallel()
	p := queryCity(t)
	at := qNoon
	f, err := p.GrantsInForce("user:ann", "social.case.read", at)
	if err != nil {
		t.Fatal(err)
	}
	want := []rbac.Bearing{
		{Grant: rbac.GrantKey{Subject: "user:ann", Role: "worker", Scope: "dept:social"}, Allows: true},
		{Grant: rbac.GrantKey{Subject: "user:ann", Role: "both", Scope: "dept:parks"}, Allows: true, Denies: true},
		{Grant: rbac.GrantKey{Subject: "group:intake", Role: "reader", Scope: "dept:roads"}, Allows: true},
	}
	if !slices.Equal(f.Grants, want) {
		t.Errorf("grants %+v\nwant   %+v", f.Grants, want)
	}
	// The answer holds until the next window edge: the deny starting at 13:00.
	if !f.ValidAt(at) || !f.ValidAt(qNoon.Add(time.Hour-1)) || f.ValidAt(qNoon.Add(time.Hour)) {
		t.Error("validity window wrong")
	}
	if got := f.Until(); !got.Equal(qNoon.Add(time.Hour)) {
		t.Errorf("Until = %v, want 13:00", got)
	}
	later, _ := p.GrantsInForce("user:ann", "social.case.read", qNoon.Add(90*time.Minute))
	if len(later.Grants) != 4 || !later.Grants[1].Denies || later.Grants[1].Allows {
		t.Errorf("at 13:30: %+v", later.Grants)
	}
	if f, _ := p.GrantsInForce("user:nobody", "social.case.read", at); len(f.Grants) != 0 || !f.ValidAt(at) {
		t.Errorf("unknown subject: %+v", f)
	}
	if f, _ := p.GrantsInForce("user:ann", "roads.permit.read", at); len(f.Grants) != 0 {
		t.Errorf("uncovered permission: %+v", f)
	}
	if _, err := p.GrantsInForce("user:ann", "social.*", at); !errors.Is(err, rbac.ErrInvalidInput) {
		t.Errorf("wildcard request: %v", err)
	}
}

func TestScopeAndRoleQueries(t *testing.T) {
	t.Parallel()
	p := queryCity(t)
	if got := p.Beneath("dept:social"); !slices.Equal(got, []rbac.Scope{"dept:social", "facility:shelter", "ward:7", "facility:kiosk"}) {
		t.Errorf("Beneath(dept:social) = %v", got)
	}
	if got := p.Beneath("facility:nowhere"); !slices.Equal(got, []rbac.Scope{"facility:nowhere"}) {
		t.Errorf("Beneath(unknown) = %v", got)
	}
	if got := p.ScopeLineage("facility:kiosk"); !slices.Equal(got, []rbac.Scope{"facility:kiosk", "ward:7", "dept:social", "org"}) {
		t.Errorf("ScopeLineage = %v", got)
	}
	if got := p.ScopeLineage("ward:99"); !slices.Equal(got, []rbac.Scope{"ward:99", "org"}) {
		t.Errorf("ScopeLineage(unknown) = %v", got)
	}
	for _, tt := range []struct {
		g, s rbac.Scope
		want bool
	}{
		{"org", "facility:kiosk", true}, {"dept:social", "facility:kiosk", true}, {"ward:7", "facility:shelter", false},
		{"dept:roads", "dept:social", false}, {"org", "ward:99", true}, {"ward:99", "ward:99", true}, {"dept:social", "ward:99", false},
	} {
		if got := p.ScopeCovers(tt.g, tt.s); got != tt.want {
			t.Errorf("ScopeCovers(%s, %s) = %v", tt.g, tt.s, got)
		}
	}
	if !p.KnowsScope("dept:parks") || !p.KnowsScope("org") || p.KnowsScope("dept:buildng") {
		t.Error("KnowsScope")
	}
	if got := p.RoleLineage("lead"); !slices.Equal(got, []rbac.RoleID{"lead", "worker", "reader"}) {
		t.Errorf("RoleLineage = %v", got)
	}
	if p.RoleLineage("ghost") != nil {
		t.Error("RoleLineage of an unknown role")
	}
	for _, tt := range []struct {
		r             rbac.RoleID
		x             rbac.Permission
		allow, denies bool
	}{
		{"lead", "social.case.read", true, false}, {"lead", "social.report.export", true, false},
		{"reader", "social.case.update", false, false}, {"both", "social.case.read", true, true}, {"ghost", "social.case.read", false, false},
	} {
		if a, d := p.RoleHolds(tt.r, tt.x); a != tt.allow || d != tt.denies {
			t.Errorf("RoleHolds(%s, %s) = %v, %v", tt.r, tt.x, a, d)
		}
	}
	if !p.KnowsPermission("social.case.read") || p.KnowsPermission("social.report.export") {
		t.Error("KnowsPermission")
	}
}

// TestGrantsInForceAgreesWithDecide is the property that makes
// GrantsInForce a faithful view of checks: for random policies, subjects,
// permissions, scopes and instants, Decide allows exactly when a returned
// grant covering the scope allows and none covering it denies.
func TestGrantsInForceAgreesWithDecide(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 5))
	scopes := []rbac.Scope{"org", "dept:a", "dept:b", "ward:1", "facility:x", "facility:y", "ward:9", "dept:z"}
	perms := []rbac.Permission{"m.e.read", "m.e.write", "n.e.read", "m.f.read"}
	rules := []rbac.Permission{"m.e.read", "m.e.write", "n.e.read", "m.*", "m.e.*"}
	subjects := []rbac.Subject{"user:u1", "svc:u1", "group:g", "user:u2"}
	checked := 0
	for range 300 {
		m := rbac.Model{Scopes: []rbac.ScopeNode{
			{Scope: "dept:a"}, {Scope: "dept:b"}, {Scope: "ward:1", Parent: "dept:a"},
			{Scope: "facility:x", Parent: "ward:1"}, {Scope: "facility:y", Parent: "dept:b"},
		}, Members: []rbac.Membership{{Member: "user:u1", Group: "group:g"}, {Member: "svc:u1", Group: "group:g"}}}
		n := 2 + r.IntN(4)
		for i := range n {
			role := rbac.Role{ID: rbac.RoleID(fmt.Sprint("r", i))}
			for range r.IntN(3) {
				role.Permissions = append(role.Permissions, rules[r.IntN(len(rules))])
			}
			if r.IntN(3) == 0 {
				role.Deny = []rbac.Permission{rules[r.IntN(len(rules))]}
			}
			if i > 0 && r.IntN(2) == 0 {
				role.Inherits = []rbac.RoleID{rbac.RoleID(fmt.Sprint("r", r.IntN(i)))}
			}
			m.Roles = append(m.Roles, role)
		}
		seen := map[rbac.GrantKey]bool{}
		for range 2 + r.IntN(6) {
			g := rbac.Grant{Subject: subjects[r.IntN(len(subjects))], Role: m.Roles[r.IntN(n)].ID, Scope: scopes[r.IntN(len(scopes))]}
			if r.IntN(3) == 0 {
				g.NotBefore = qNoon.Add(time.Duration(r.IntN(5)-2) * time.Hour)
				g.NotAfter = g.NotBefore.Add(time.Duration(1+r.IntN(3)) * time.Hour)
			}
			if !seen[g.Key()] {
				seen[g.Key()] = true
				m.Grants = append(m.Grants, g)
			}
		}
		p, err := rbac.Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range subjects {
			for _, x := range perms {
				at := qNoon.Add(time.Duration(r.IntN(6)-3) * time.Hour)
				f, err := p.GrantsInForce(sub, x, at)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range scopes {
					q, err := p.Resolve(x, s)
					if err != nil {
						t.Fatal(err)
					}
					allow, deny := false, false
					for _, b := range f.Grants {
						if p.ScopeCovers(b.Grant.Scope, s) {
							allow = allow || b.Allows
							deny = deny || b.Denies
						}
					}
					checked++
					if got := p.Decide(sub, q, at).Allowed; got != (allow && !deny) {
						t.Fatalf("%s %s at %s: Decide %v, grants in force say %v\n%+v\nmodel %+v", sub, x, s, got, allow && !deny, f.Grants, m)
					}
				}
			}
		}
	}
	t.Logf("%d decisions compared", checked)
}

// TestCovered checks Covered against Permission.Covers over the known
// permissions, for exact, wildcard, unknown and malformed patterns.
func TestCovered(t *testing.T) {
	t.Parallel()
	p, err := rbac.Compile(rbac.Model{
		Permissions: []rbac.Permission{"permits.application.read", "permits.applicant.read", "permitsx.case.read", "crm.citizen.sin.view"},
		Roles:       []rbac.Role{{ID: "r", Permissions: []rbac.Permission{"permits.*", "crm.citizen.read"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []rbac.Permission{"permits.*", "permits.application.*", "crm.*", "crm.citizen.*", "crm.citizen.sin.*",
		"permitsx.*", "roads.*", "permits.application.read", "permits.application.approve", "", "permits", "permits.**", "PERMITS.*"} {
		var want []rbac.Permission
		if x.ValidatePattern() == nil {
			for _, k := range p.KnownPermissions() {
				if x.Covers(k) {
					want = append(want, k)
				}
			}
		}
		if got := p.Covered(x); !slices.Equal(got, want) {
			t.Errorf("Covered(%q) = %v, want %v", x, got, want)
		}
	}
	if got := p.Covered("permits.*"); len(got) != 2 {
		t.Errorf("permits.* covers %v; permitsx.case.read is not under permits.", got)
	}
}
