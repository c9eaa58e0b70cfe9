package rbac_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
)

// The universe of the conflict-check property test: few names, so that
// random models and changes collide often.
var (
	sodNoon       = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	sodRoles      = []rbac.RoleID{"r0", "r1", "r2", "r3", "r4"}
	sodPerms      = []rbac.Permission{"fin.po.create", "fin.po.approve", "fin.po.*", "fin.budget.edit"}
	sodPrincipals = []rbac.Subject{"user:a", "user:b", "svc:c"}
	sodGroups     = []rbac.Subject{"group:g", "unit:u"}
	sodScopes     = []rbac.Scope{rbac.OrgScope, "dept:a", "dept:b", "ward:1", "facility:x", "facility:y"}
)

// sodTime is one of a few instants around sodNoon, or zero.
func sodTime(r *rand.Rand) time.Time {
	if r.IntN(3) == 0 {
		return time.Time{}
	}
	return sodNoon.Add(time.Duration(r.IntN(7)-3) * time.Hour)
}

func sodWindow(r *rand.Rand) (time.Time, time.Time) {
	a, b := sodTime(r), sodTime(r)
	if !a.IsZero() && !b.IsZero() && !b.After(a) {
		a, b = b, a.Add(time.Hour)
	}
	return a, b
}

func sodRole(r *rand.Rand, i int) rbac.Role {
	role := rbac.Role{ID: sodRoles[i]}
	for j := range i {
		if r.IntN(4) == 0 {
			role.Inherits = append(role.Inherits, sodRoles[j])
		}
	}
	for _, x := range sodPerms {
		if r.IntN(3) == 0 {
			role.Permissions = append(role.Permissions, x)
		}
	}
	if r.IntN(5) == 0 {
		role.Deny = append(role.Deny, sodPerms[r.IntN(2)])
	}
	return role
}

func sodGrant(r *rand.Rand) rbac.Grant {
	holders := append(slices.Clone(sodPrincipals), sodGroups...)
	from, until := sodWindow(r)
	return rbac.Grant{Subject: holders[r.IntN(len(holders))], Role: sodRoles[r.IntN(len(sodRoles))],
		Scope: sodScopes[r.IntN(len(sodScopes))], NotBefore: from, NotAfter: until}
}

func sodRule(r *rand.Rand, id string) rbac.ConflictRule {
	if r.IntN(3) == 0 {
		return rbac.ConflictRule{ID: id, Permissions: [2]rbac.Permission{"fin.po.create", "fin.po.approve"}}
	}
	i := r.IntN(len(sodRoles))
	j := (i + 1 + r.IntN(len(sodRoles)-1)) % len(sodRoles)
	return rbac.ConflictRule{ID: id, Roles: [2]rbac.RoleID{sodRoles[i], sodRoles[j]}}
}

func sodWaiver(r *rand.Rand, rule string) rbac.Waiver {
	from, until := sodWindow(r)
	sub := sodPrincipals[r.IntN(len(sodPrincipals))]
	return rbac.Waiver{Rule: rule, Subject: sub, ApprovedBy: "user:boss", Reason: "small office", NotBefore: from, NotAfter: until}
}

// sodModel is a random model that compiles: acyclic roles, a scope tree,
// memberships, grants, one or two rules and perhaps waivers. It may hold
// violations already (as if its rules were added after its grants).
func sodModel(r *rand.Rand) rbac.Model {
	for {
		m := rbac.Model{Permissions: []rbac.Permission{"fin.po.create", "fin.po.approve", "fin.budget.edit"},
			Scopes: []rbac.ScopeNode{{Scope: "dept:a"}, {Scope: "dept:b"}, {Scope: "ward:1"}, {Scope: "facility:x", Parent: "dept:a"}},
			// facility:y is granted before a change may declare it.
			ImplicitScopes: true}
		for i := range sodRoles {
			m.Roles = append(m.Roles, sodRole(r, i))
		}
		for _, p := range sodPrincipals {
			for _, g := range sodGroups {
				if r.IntN(3) == 0 {
					m.Members = append(m.Members, rbac.Membership{Member: p, Group: g})
				}
			}
		}
		for range r.IntN(7) {
			m.Grants = append(m.Grants, sodGrant(r))
		}
		m.Conflicts = append(m.Conflicts, sodRule(r, "c0"))
		if r.IntN(2) == 0 {
			m.Conflicts = append(m.Conflicts, sodRule(r, "c1"))
		}
		if r.IntN(3) == 0 {
			m.Waivers = append(m.Waivers, sodWaiver(r, "c0"))
		}
		if _, err := rbac.Compile(m); err == nil {
			return m
		}
	}
}

// sodChange is a random change to m: grants (new, or renewing one of m's
// with another window or scope), revokes, joins and leaves, sometimes a
// role or scope-tree edit, rule or waiver edits; at an instant near noon.
func sodChange(r *rand.Rand, m rbac.Model) rbac.Change {
	c := rbac.Change{At: sodNoon.Add(time.Duration(r.IntN(5)-2) * time.Hour)}
	for range r.IntN(3) {
		switch k := r.IntN(9); {
		case k < 3:
			c.Grant = append(c.Grant, sodGrant(r))
		case k < 5 && len(m.Grants) > 0:
			g := m.Grants[r.IntN(len(m.Grants))]
			c.Revoke = append(c.Revoke, g.Key())
			if r.IntN(3) > 0 { // renew it: another window, perhaps another scope
				g.NotBefore, g.NotAfter = sodWindow(r)
				if r.IntN(3) == 0 {
					g.Scope = sodScopes[r.IntN(len(sodScopes))]
				}
				c.Grant = append(c.Grant, g)
			}
		case k < 6:
			ms := rbac.Membership{Member: sodPrincipals[r.IntN(len(sodPrincipals))], Group: sodGroups[r.IntN(len(sodGroups))]}
			if slices.Contains(m.Members, ms) && r.IntN(2) == 0 {
				c.Leave = append(c.Leave, ms)
			} else {
				c.Join = append(c.Join, ms)
			}
		case k < 7:
			c.PutRoles = append(c.PutRoles, sodRole(r, r.IntN(len(sodRoles))))
		case k < 8:
			parents := []rbac.Scope{rbac.OrgScope, "dept:a", "dept:b", "ward:1"}
			c.PutScopes = append(c.PutScopes, rbac.ScopeNode{Scope: []rbac.Scope{"facility:x", "facility:y"}[r.IntN(2)], Parent: parents[r.IntN(len(parents))]})
		default:
			switch r.IntN(3) {
			case 0:
				c.PutConflicts = append(c.PutConflicts, sodRule(r, []string{"c0", "c1"}[r.IntN(2)]))
			case 1:
				c.PutWaivers = append(c.PutWaivers, sodWaiver(r, "c0"))
			default:
				for _, w := range m.Waivers {
					c.DeleteWaivers = append(c.DeleteWaivers, w.Key())
				}
			}
		}
	}
	// A grant whose window has ended by the change is refused before
	// conflicts are looked at: leave such grants out.
	c.Grant = slices.DeleteFunc(c.Grant, func(g rbac.Grant) bool { return !g.NotAfter.IsZero() && !c.At.Before(g.NotAfter) })
	return c
}

// coverage returns the scopes of names that a grant at s reaches in model
// m's scope tree (undeclared scopes sit under org).
func coverage(m rbac.Model, s rbac.Scope, names []rbac.Scope) map[rbac.Scope]bool {
	parent := map[rbac.Scope]rbac.Scope{}
	for _, n := range m.Scopes {
		parent[n.Scope] = n.Parent
	}
	out := map[rbac.Scope]bool{}
	for _, x := range names {
		for y, i := x, 0; i <= len(parent)+1; i++ {
			if y == s || s == rbac.OrgScope {
				out[x] = true
				break
			}
			if y == rbac.OrgScope || y == "" {
				break
			}
			y = parent[y]
		}
	}
	return out
}

// reportGrows is the whole-policy view of a change: from the compliance
// reports (rbac.Policy.Violations) before and after it, does some
// principal have a violation that no waiver in force at the change's
// instant covers and that is new, or longer, or through a grant whose
// scope now reaches further? before is judged by after's rules (a
// violation that predates its rule is not new), without waivers.
func reportGrows(t *testing.T, before, after rbac.Model, at time.Time) (bool, string) {
	t.Helper()
	pa, err := rbac.Compile(after)
	if err != nil {
		t.Fatalf("after does not compile: %v", err)
	}
	old := map[string]rbac.Violation{}
	b := before.Clone()
	b.Waivers, b.Conflicts = nil, nil
	for _, r := range after.Conflicts {
		if r.IsRoleRule() {
			has := func(id rbac.RoleID) bool {
				return slices.ContainsFunc(before.Roles, func(x rbac.Role) bool { return x.ID == id })
			}
			if !has(r.Roles[0]) || !has(r.Roles[1]) {
				continue
			}
		} else {
			b.Permissions = append(b.Permissions, r.Permissions[0], r.Permissions[1])
		}
		b.Conflicts = append(b.Conflicts, r)
	}
	if pb, err := rbac.Compile(b); err == nil {
		for _, v := range pb.Violations(time.Unix(0, 0).UTC()) {
			old[v.Key()] = v
		}
	}
	names := slices.Clone(sodScopes)
	end := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Unix(0, math.MaxInt64-1).UTC()
		}
		return t
	}
	// Every violation, ended or not, unless a waiver in force at the
	// change's instant covers it.
	waived := func(v rbac.Violation) bool {
		for _, w := range after.Waivers {
			if w.Rule == v.Rule && w.Subject == v.Subject && w.ActiveAt(at) {
				return true
			}
		}
		return false
	}
	for _, v := range pa.Violations(time.Unix(0, 0).UTC()) {
		if waived(v) {
			continue
		}
		start := v.From
		o, ok := old[v.Key()]
		if !ok {
			return true, "new " + v.Key()
		}
		if o.From.After(start) || end(v.Until).After(end(o.Until)) {
			return true, fmt.Sprintf("longer %s: %v..%v, was %v..%v", v.Key(), v.From, v.Until, o.From, o.Until)
		}
		for _, s := range []rbac.Scope{v.First.Grant.Scope, v.Second.Grant.Scope} {
			now, was := coverage(after, s, names), coverage(before, s, names)
			for x := range now {
				if !was[x] {
					return true, fmt.Sprintf("wider %s: %s now reaches %s", v.Key(), s, x)
				}
			}
		}
	}
	return false, ""
}

// checkSoDAgreement applies one random change to one random model and
// checks that the incremental check (rbac.Update, rbac.CheckChange), the
// whole-policy check (rbac.CheckReplace) and the compliance reports
// before and after all agree on whether it adds to a violation.
func checkSoDAgreement(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	m := sodModel(r)
	c := sodChange(r, m)
	if c.IsZero() {
		return
	}
	next, err := m.Apply(c)
	if err != nil {
		return // names something missing
	}
	pa, err := rbac.Compile(next)
	if err != nil {
		return // invalid for other reasons: not this test's business
	}
	want, why := reportGrows(t, m, next, c.At)
	_, _, err = rbac.Update(m, c)
	if err != nil && !errors.Is(err, rbac.ErrConflict) {
		t.Fatalf("seed %d: Update: %v", seed, err)
	}
	if got := err != nil; got != want {
		t.Fatalf("seed %d: Update refused = %v (%v), reports say %v (%s)\nmodel %+v\nchange %+v", seed, got, err, want, why, m, c)
	}
	if got := errors.Is(rbac.CheckChange(m, pa, c), rbac.ErrConflict); got != want {
		t.Fatalf("seed %d: CheckChange refused = %v, reports say %v (%s)", seed, got, want, why)
	}
	if got := errors.Is(rbac.CheckReplace(m, pa, c.At), rbac.ErrConflict); got != want {
		t.Fatalf("seed %d: CheckReplace refused = %v, reports say %v (%s)", seed, got, want, why)
	}
}

// TestConflictCheckAgreesWithReport runs the agreement property over many
// random models and changes.
func TestConflictCheckAgreesWithReport(t *testing.T) {
	t.Parallel()
	n := 3000
	if testing.Short() {
		n = 300
	}
	for seed := range uint64(n) {
		checkSoDAgreement(t, seed)
	}
}

// FuzzConflictCheckAgreesWithReport is the same property under the fuzzer.
func FuzzConflictCheckAgreesWithReport(f *testing.F) {
	for _, s := range []uint64{0, 1, 2, 7, 42, 1234, 99999} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkSoDAgreement(t, seed) })
}
