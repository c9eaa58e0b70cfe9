package rbac_test

import (
	"errors"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
)

// TestGrandfatheredViolationCannotGrowThroughOthers extends a grandfathered
// violation through every indirection a change can use: a group or org
// unit the principal joins, a grant to a group or unit the principal is
// in, a role the principal holds that comes to inherit a side, and a new
// scope node. Each is refused by Update and by CheckReplace.
func TestGrandfatheredViolationCannotGrowThroughOthers(t *testing.T) {
	t.Parallel()
	day := noon.Add(24 * time.Hour)
	later := day.Add(24 * time.Hour)
	base := func(t *testing.T) rbac.Model {
		m := grandfathered(t, day)
		// ivan also holds an unrelated role, for ever.
		next, err := update(t, m, rbac.Change{At: noon, Join: []rbac.Membership{{Member: "user:ivan", Group: "group:clerks"}},
			Grant: []rbac.Grant{{Subject: "user:ivan", Role: "budget-officer", Scope: "dept:finance"}}})
		if err != nil {
			t.Fatal(err)
		}
		return next
	}
	tests := []struct {
		name string
		c    rbac.Change
	}{
		{"joins a group holding one side for longer", rbac.Change{At: noon, Join: []rbac.Membership{{Member: "user:ivan", Group: "group:buyers"}}}},
		{"joins an org unit holding one side", rbac.Change{At: noon, Join: []rbac.Membership{{Member: "user:ivan", Group: "unit:procurement"}}}},
		{"a group he is in is granted one side", rbac.Change{At: noon, Grant: []rbac.Grant{{Subject: "group:clerks", Role: "po-creator", Scope: "dept:finance", NotAfter: later}}}},
		{"a group he is in is granted one side while his own grant is revoked", rbac.Change{At: noon,
			Revoke: []rbac.GrantKey{{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}},
			Grant:  []rbac.Grant{{Subject: "group:clerks", Role: "po-creator", Scope: "dept:finance", NotAfter: later}}}},
		{"a role he holds comes to inherit one side", rbac.Change{At: noon, PutRoles: []rbac.Role{{ID: "budget-officer",
			Permissions: []rbac.Permission{"finance.budget.edit"}, Inherits: []rbac.RoleID{"po-creator"}}}}},
		{"a role he holds comes to carry a side's permission", rbac.Change{At: noon, PutRoles: []rbac.Role{{ID: "budget-officer",
			Permissions: []rbac.Permission{"finance.budget.edit", "finance.po.create"}}}}},
		{"a new scope node under his grant's scope, and a grant there", rbac.Change{At: noon, PutScopes: []rbac.ScopeNode{{Scope: "ward:9", Parent: "dept:finance"}},
			Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "ward:9", NotAfter: later}}}},
		{"his grant's scope is moved under org-wide parent", rbac.Change{At: noon, PutScopes: []rbac.ScopeNode{{Scope: "dept:parks", Parent: "dept:finance"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := base(t)
			if _, err := update(t, m, tt.c); !errors.Is(err, rbac.ErrConflict) {
				t.Fatalf("Update: %v, want ErrConflict", err)
			}
			next, err := m.Apply(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			p, err := rbac.Compile(next)
			if err != nil {
				t.Fatal(err)
			}
			if err := rbac.CheckReplace(m, p, noon); !errors.Is(err, rbac.ErrConflict) {
				t.Errorf("CheckReplace: %v, want ErrConflict", err)
			}
		})
	}
}

// TestWaiverWindowBoundaries checks the exact edges of a waiver's window:
// in force from NotBefore (inclusive) to NotAfter (exclusive), at the
// nanosecond.
func TestWaiverWindowBoundaries(t *testing.T) {
	t.Parallel()
	grant := rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotAfter: noon.Add(time.Hour)}
	ns := time.Nanosecond
	for _, tt := range []struct {
		name        string
		from, until time.Time
		refused     bool
	}{
		{"starts at the change", noon, noon.Add(2 * time.Hour), false},
		{"starts a nanosecond after the change", noon.Add(ns), noon.Add(2 * time.Hour), true},
		{"ends a nanosecond after the change", time.Time{}, noon.Add(ns), false},
		{"ends at the change", noon.Add(-time.Hour), noon, true},
		{"ended a nanosecond before the change", noon.Add(-time.Hour), noon.Add(-ns), true},
		{"open start, ends at the change", time.Time{}, noon, true},
		{"starts at the change, open end", noon, time.Time{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := []rbac.Waiver{
				{Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "svc:governance", Reason: "r", NotBefore: tt.from, NotAfter: tt.until},
				{Rule: "po-perms", Subject: "user:ivan", ApprovedBy: "svc:governance", Reason: "r", NotBefore: tt.from, NotAfter: tt.until},
			}
			m := finance()
			m.Waivers = ws
			_, err := update(t, m, rbac.Change{At: noon, Grant: []rbac.Grant{grant}})
			if errors.Is(err, rbac.ErrConflict) != tt.refused || (err != nil && !tt.refused) {
				t.Fatalf("Update: %v, want refused = %v", err, tt.refused)
			}
			// An import of the same result is judged alike.
			after := finance()
			after.Waivers = ws
			after.Grants = append(after.Grants, grant)
			p, err := rbac.Compile(after)
			if err != nil {
				t.Fatal(err)
			}
			if got := errors.Is(rbac.CheckReplace(finance(), p, noon), rbac.ErrConflict); got != tt.refused {
				t.Errorf("CheckReplace refused = %v, want %v", got, tt.refused)
			}
		})
	}
}

// TestWaiverApproverSpellings checks that the approver cannot be the waived
// principal under another spelling, nor a container of principals.
func TestWaiverApproverSpellings(t *testing.T) {
	t.Parallel()
	for _, approver := range []rbac.Subject{"User:ivan", "user:Ivan", "user:ivan ", " user:ivan", "user:ivan\x00", "user:", "ivan", "group:ivan", "unit:ivan", "role:cfo"} {
		w := rbac.Waiver{Rule: "po-roles", Subject: "user:ivan", ApprovedBy: approver, Reason: "r"}
		if _, err := update(t, finance(), rbac.Change{At: noon, PutWaivers: []rbac.Waiver{w}}); !errors.Is(err, rbac.ErrInvalidInput) {
			t.Errorf("approver %q: %v, want ErrInvalidInput", approver, err)
		}
	}
	// The waived subject must be a principal, spelled validly.
	for _, sub := range []rbac.Subject{"User:ivan", "group:buyers", "unit:procurement"} {
		w := rbac.Waiver{Rule: "po-roles", Subject: sub, ApprovedBy: "user:cfo", Reason: "r"}
		if _, err := update(t, finance(), rbac.Change{At: noon, PutWaivers: []rbac.Waiver{w}}); !errors.Is(err, rbac.ErrInvalidInput) {
			t.Errorf("waived subject %q: %v, want ErrInvalidInput", sub, err)
		}
	}
}

// TestLapsedWaiverPermitsNothingNew checks that once a waiver has lapsed, a
// violation it used to permit cannot be extended, widened or joined by a
// new path, even though it existed (waived) before.
func TestLapsedWaiverPermitsNothingNew(t *testing.T) {
	t.Parallel()
	m := finance()
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotAfter: noon.Add(48 * time.Hour)})
	m.Waivers = []rbac.Waiver{
		{Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "r", NotAfter: noon},
		{Rule: "po-perms", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "r", NotAfter: noon},
	}
	if _, err := rbac.Compile(m); err != nil {
		t.Fatal(err)
	}
	key := rbac.GrantKey{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}
	for name, c := range map[string]rbac.Change{
		"extended": {At: noon, Revoke: []rbac.GrantKey{key}, Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}}},
		"widened":  {At: noon, Revoke: []rbac.GrantKey{key}, Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "org", NotAfter: noon.Add(48 * time.Hour)}}},
		"new path": {At: noon, Join: []rbac.Membership{{Member: "user:ivan", Group: "group:buyers"}}},
		"renewed through a new waiver that starts later": {At: noon, PutWaivers: []rbac.Waiver{
			{Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "r", NotBefore: noon.Add(time.Hour)},
			{Rule: "po-perms", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "r", NotBefore: noon.Add(time.Hour)},
		}, Revoke: []rbac.GrantKey{key}, Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}}},
	} {
		if _, err := update(t, m, c); !errors.Is(err, rbac.ErrConflict) {
			t.Errorf("%s after the waiver lapsed: %v, want ErrConflict", name, err)
		}
	}
}

// TestConflictWindowsAtTheNanosecond checks that windows are half-open:
// holding one side until the instant the other begins is no violation,
// and one nanosecond of overlap is, through Update, CheckReplace and the
// report.
func TestConflictWindowsAtTheNanosecond(t *testing.T) {
	t.Parallel()
	t1, t2 := noon.Add(time.Hour), noon.Add(2*time.Hour)
	for _, tt := range []struct {
		name     string
		end      time.Time // end of po-creator, which starts at noon
		conflict bool
	}{
		{"adjacent", t1, false},
		{"one nanosecond of overlap", t1.Add(time.Nanosecond), true},
		{"one nanosecond apart", t1.Add(-time.Nanosecond), false},
	} {
		m := finance()
		m.Grants = []rbac.Grant{{Subject: "user:zed", Role: "po-approver", Scope: "dept:finance", NotBefore: t1, NotAfter: t2}}
		g := rbac.Grant{Subject: "user:zed", Role: "po-creator", Scope: "dept:parks", NotBefore: noon, NotAfter: tt.end}
		_, err := update(t, m, rbac.Change{At: noon, Grant: []rbac.Grant{g}})
		if errors.Is(err, rbac.ErrConflict) != tt.conflict || (err != nil && !tt.conflict) {
			t.Errorf("%s: Update: %v, want conflict = %v", tt.name, err, tt.conflict)
		}
		after := m.Clone()
		after.Grants = append(after.Grants, g)
		p, err := rbac.Compile(after)
		if err != nil {
			t.Fatal(err)
		}
		if got := errors.Is(rbac.CheckReplace(m, p, noon), rbac.ErrConflict); got != tt.conflict {
			t.Errorf("%s: CheckReplace conflict = %v, want %v", tt.name, got, tt.conflict)
		}
		if got := len(p.ViolationsOf("user:zed", noon)) > 0; got != tt.conflict {
			t.Errorf("%s: report shows a violation = %v, want %v", tt.name, got, tt.conflict)
		}
	}
}
