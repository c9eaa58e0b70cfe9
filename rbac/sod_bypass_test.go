package rbac_test

import (
	"errors"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
)

// grandfathered is finance() where user:ivan held po-creator (until a day
// after noon) and po-approver at dept:finance before the po-roles rule was
// added: a violation that predates its rule.
func grandfathered(t *testing.T, creatorUntil time.Time) rbac.Model {
	t.Helper()
	m := finance()
	rules := m.Conflicts
	m.Conflicts = nil
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotAfter: creatorUntil})
	next, err := update(t, m, rbac.Change{At: noon, PutConflicts: rules})
	if err != nil {
		t.Fatalf("adding rules over an existing violation: %v", err)
	}
	return next
}

func TestGrandfatheredViolationCannotGrow(t *testing.T) {
	t.Parallel()
	creator := rbac.GrantKey{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}
	approver := rbac.GrantKey{Subject: "user:ivan", Role: "po-approver", Scope: "dept:finance"}
	day := noon.Add(24 * time.Hour)
	unrelated := rbac.Role{ID: "budget-officer", Permissions: []rbac.Permission{"finance.budget.edit", "finance.budget.read"}}
	renew := func(g rbac.Grant) rbac.Change {
		return rbac.Change{At: noon, Revoke: []rbac.GrantKey{g.Key()}, Grant: []rbac.Grant{g}}
	}
	withRole := func(c rbac.Change) rbac.Change { c.PutRoles = []rbac.Role{unrelated}; return c }
	withScope := func(c rbac.Change) rbac.Change {
		c.PutScopes = []rbac.ScopeNode{{Scope: "ward:9"}}
		return c
	}
	longer := rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotAfter: day.Add(24 * time.Hour)}
	open := rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}
	wider := rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "org", NotAfter: day}
	tests := []struct {
		name    string
		base    time.Time // NotAfter of ivan's po-creator grant
		c       rbac.Change
		refused bool
	}{
		{"extended in time", day, renew(longer), true},
		{"made open-ended", day, renew(open), true},
		{"extended while editing an unrelated role", day, withRole(renew(longer)), true},
		{"extended while editing the scope tree", day, withScope(renew(longer)), true},
		{"widened to org", day, rbac.Change{At: noon, Revoke: []rbac.GrantKey{creator}, Grant: []rbac.Grant{wider}}, true},
		{"widened to org while editing an unrelated role", day, withRole(rbac.Change{At: noon, Revoke: []rbac.GrantKey{creator}, Grant: []rbac.Grant{wider}}), true},
		{"moved to another scope", day, withRole(rbac.Change{At: noon, Revoke: []rbac.GrantKey{approver},
			Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-approver", Scope: "dept:parks"}}}), true},
		{"a second path while editing an unrelated role", day, withRole(rbac.Change{At: noon,
			Join: []rbac.Membership{{Member: "user:ivan", Group: "group:buyers"}}}), true},
		{"scope tree moves a scope under it", day, rbac.Change{At: noon, PutScopes: []rbac.ScopeNode{{Scope: "dept:parks", Parent: "dept:finance"}}}, true},
		{"renewed after it ended", noon.Add(-time.Hour), renew(rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance",
			NotBefore: noon, NotAfter: day}), true},
		{"renewed after it ended, with an unrelated role edit", noon.Add(-time.Hour), withRole(renew(rbac.Grant{Subject: "user:ivan",
			Role: "po-creator", Scope: "dept:finance", NotBefore: noon, NotAfter: day})), true},
		{"revoked and granted again unchanged", day, renew(rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotAfter: day}), false},
		{"shortened", day, withRole(renew(rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotAfter: noon.Add(time.Hour)})), false},
		{"an unrelated role edit alone", day, withRole(rbac.Change{At: noon}), false},
		{"an unrelated grant", day, rbac.Change{At: noon, Grant: []rbac.Grant{{Subject: "user:ivan", Role: "budget-officer", Scope: "dept:finance"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := grandfathered(t, tt.base)
			_, err := update(t, m, tt.c)
			if tt.refused != errors.Is(err, rbac.ErrConflict) {
				t.Fatalf("Update: %v, want refused = %v", err, tt.refused)
			}
			if err != nil && !tt.refused {
				t.Fatalf("Update: %v", err)
			}
			// A whole-model replacement to the same result is judged alike.
			if next, err := m.Apply(tt.c); err == nil {
				p, err := rbac.Compile(next)
				if err != nil {
					t.Fatal(err)
				}
				if got := errors.Is(rbac.CheckReplace(m, p, noon), rbac.ErrConflict); got != tt.refused {
					t.Errorf("CheckReplace refused = %v, want %v", got, tt.refused)
				}
			}
		})
	}
}

func TestWaiverOnlyWithinItsWindow(t *testing.T) {
	t.Parallel()
	grant := rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}
	waiver := func(from, until time.Time) []rbac.Waiver {
		return []rbac.Waiver{
			{Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "two-person office", NotBefore: from, NotAfter: until},
			{Rule: "po-perms", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "two-person office", NotBefore: from, NotAfter: until},
		}
	}
	tests := []struct {
		name        string
		from, until time.Time
		at          time.Time
		refused     bool
	}{
		{"in force", noon.Add(-time.Hour), noon.Add(time.Hour), noon, false},
		{"without a window", time.Time{}, time.Time{}, noon, false},
		{"lapsed", noon.Add(-2 * time.Hour), noon.Add(-time.Hour), noon, true},
		{"lapsed at the very instant", time.Time{}, noon, noon, true},
		{"not yet begun", noon.Add(time.Hour), noon.Add(2 * time.Hour), noon, true},
		{"windowed, change without an instant", noon.Add(-time.Hour), noon.Add(time.Hour), time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The waiver stored first, then the grant.
			m := finance()
			m.Waivers = waiver(tt.from, tt.until)
			_, err := update(t, m, rbac.Change{At: tt.at, Grant: []rbac.Grant{grant}})
			if errors.Is(err, rbac.ErrConflict) != tt.refused || (err != nil && !tt.refused) {
				t.Fatalf("grant under the waiver: %v, want refused = %v", err, tt.refused)
			}
			// The waiver and the grant in one change.
			_, err = update(t, finance(), rbac.Change{At: tt.at, PutWaivers: waiver(tt.from, tt.until), Grant: []rbac.Grant{grant}})
			if errors.Is(err, rbac.ErrConflict) != tt.refused {
				t.Fatalf("waiver and grant together: %v, want refused = %v", err, tt.refused)
			}
		})
	}
	// The report shows the violation as waived only inside the window.
	m := finance()
	m.Grants = append(m.Grants, grant)
	m.Waivers = waiver(noon, noon.Add(time.Hour))
	p, err := rbac.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[time.Time]bool{noon.Add(-time.Minute): false, noon: true, noon.Add(time.Hour): false} {
		for _, v := range p.Violations(at) {
			if (v.Waiver != nil) != want {
				t.Errorf("at %v: %s waived = %v, want %v", at, v.Rule, v.Waiver != nil, want)
			}
		}
	}
}

func TestWaiverApprover(t *testing.T) {
	t.Parallel()
	m := finance()
	m.Members = append(m.Members, rbac.Membership{Member: "user:ivan", Group: "group:managers"})
	for name, w := range map[string]rbac.Waiver{
		"self":                  {Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "user:ivan", Reason: "r"},
		"a group it is in":      {Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "group:managers", Reason: "r"},
		"an org unit":           {Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "unit:procurement", Reason: "r"},
		"ends before it starts": {Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "r", NotBefore: noon, NotAfter: noon},
	} {
		c := rbac.Change{At: noon, PutWaivers: []rbac.Waiver{w}, Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}}}
		if _, err := update(t, m, c); !errors.Is(err, rbac.ErrInvalidInput) {
			t.Errorf("%s: Update: %v, want ErrInvalidInput", name, err)
		}
		bad := m
		bad.Waivers = []rbac.Waiver{w}
		if _, err := rbac.Compile(bad); !errors.Is(err, rbac.ErrInvalidInput) {
			t.Errorf("%s: Compile: %v, want ErrInvalidInput", name, err)
		}
	}
}

func TestConflictRuleAppliesAtAnyScopes(t *testing.T) {
	t.Parallel()
	tests := []struct{ first, second rbac.Scope }{
		{"dept:finance", "dept:parks"},
		{"ward:3", "dept:finance"},
		{"facility:annex", "dept:parks"},
		{"ward:3", "ward:4"},
	}
	for _, tt := range tests {
		m := finance()
		m.Scopes = append(m.Scopes, rbac.ScopeNode{Scope: "ward:3"}, rbac.ScopeNode{Scope: "ward:4"})
		m.Grants = append(m.Grants, rbac.Grant{Subject: "user:zed", Role: "po-approver", Scope: tt.second})
		_, err := update(t, m, rbac.Change{At: noon, Grant: []rbac.Grant{{Subject: "user:zed", Role: "po-creator", Scope: tt.first}}})
		if !errors.Is(err, rbac.ErrConflict) {
			t.Errorf("po-creator at %s with po-approver at %s: %v, want ErrConflict", tt.first, tt.second, err)
		}
		m.Grants = append(m.Grants, rbac.Grant{Subject: "user:zed", Role: "po-creator", Scope: tt.first})
		p, err := rbac.Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, v := range p.ViolationsOf("user:zed", noon) {
			found = found || v.Rule == "po-roles"
		}
		if !found {
			t.Errorf("%s and %s: the report misses the violation", tt.first, tt.second)
		}
	}
}

// TestChangeInstantHidesNothing checks that the instant a change carries
// decides only which waivers are in force: a change dated after the
// windows it creates still cannot create a violation.
func TestChangeInstantHidesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []rbac.Change{
		{At: noon.Add(48 * time.Hour), Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotBefore: noon, NotAfter: noon.Add(time.Hour)}}},
		{At: noon.Add(48 * time.Hour), PutRoles: []rbac.Role{{ID: "budget-officer", Permissions: []rbac.Permission{"finance.budget.edit"}}},
			Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotBefore: noon, NotAfter: noon.Add(time.Hour)}}},
	} {
		// Update refuses the grant whose window has ended before anything
		// else; the conflict check on its own still finds the violation.
		if _, err := update(t, finance(), c); !errors.Is(err, rbac.ErrInvalidInput) {
			t.Errorf("grant ended before the change's instant: %v, want ErrInvalidInput", err)
		}
		next, err := finance().Apply(c)
		if err != nil {
			t.Fatal(err)
		}
		p, err := rbac.Compile(next)
		if err != nil {
			t.Fatal(err)
		}
		if err := rbac.CheckChange(finance(), p, c); !errors.Is(err, rbac.ErrConflict) {
			t.Errorf("violation ending before the change's instant: %v, want ErrConflict", err)
		}
	}
}
