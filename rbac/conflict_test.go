package rbac_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
)

var noon = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// finance is a small policy with a role rule and a permission rule.
func finance() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:finance"}, {Scope: "dept:parks"}, {Scope: "facility:annex", Parent: "dept:finance"}},
		Roles: []rbac.Role{
			{ID: "po-creator", Permissions: []rbac.Permission{"finance.po.create", "finance.po.read"}},
			{ID: "po-approver", Permissions: []rbac.Permission{"finance.po.approve", "finance.po.read"}},
			{ID: "senior-buyer", Inherits: []rbac.RoleID{"po-creator"}},
			{ID: "finance-director", Composite: true, Inherits: []rbac.RoleID{"po-approver", "budget-officer"}},
			{ID: "budget-officer", Permissions: []rbac.Permission{"finance.budget.edit"}},
			{ID: "finance-all", Composite: true, Inherits: []rbac.RoleID{"senior-buyer", "po-approver"}},
			{ID: "po-wild", Permissions: []rbac.Permission{"finance.po.*"}},
			{ID: "po-wild-no-approve", Permissions: []rbac.Permission{"finance.po.*"}, Deny: []rbac.Permission{"finance.po.approve"}},
		},
		Members: []rbac.Membership{
			{Member: "user:gina", Group: "group:buyers"},
			{Member: "user:hank", Group: "unit:procurement"},
		},
		Grants: []rbac.Grant{
			{Subject: "group:buyers", Role: "po-creator", Scope: "dept:finance"},
			{Subject: "unit:procurement", Role: "senior-buyer", Scope: "org"},
			{Subject: "user:ivan", Role: "po-approver", Scope: "dept:finance"},
		},
		Conflicts: []rbac.ConflictRule{
			{ID: "po-roles", Description: "who creates a PO never approves it", Roles: [2]rbac.RoleID{"po-creator", "po-approver"}},
			{ID: "po-perms", Permissions: [2]rbac.Permission{"finance.po.create", "finance.po.approve"}},
		},
	}
}

func update(t *testing.T, m rbac.Model, c rbac.Change) (rbac.Model, error) {
	t.Helper()
	next, _, err := rbac.Update(m, c)
	return next, err
}

func TestConflictEnforcedOnEveryPath(t *testing.T) {
	t.Parallel()
	win := func(from, until time.Duration) (time.Time, time.Time) { return noon.Add(from), noon.Add(until) }
	f1, u1 := win(0, 2*time.Hour)
	f2, u2 := win(time.Hour, 3*time.Hour)
	f3, u3 := win(2*time.Hour, 4*time.Hour)
	tests := []struct {
		name     string
		change   rbac.Change
		base     func(*rbac.Model)
		conflict bool
		rule     string
		subject  rbac.Subject
		path     string // a substring of one of the two paths
	}{
		{name: "direct", conflict: true, rule: "po-roles", subject: "user:ivan", path: "user:ivan → grant po-creator at dept:finance",
			change: rbac.Change{Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}}}},
		{name: "through a group", conflict: true, rule: "po-roles", subject: "user:gina", path: "user:gina → group:buyers → grant po-creator",
			change: rbac.Change{Grant: []rbac.Grant{{Subject: "user:gina", Role: "po-approver", Scope: "dept:finance"}}}},
		{name: "grant to the group reaches its member", conflict: true, rule: "po-roles", subject: "user:gina", path: "user:gina → group:buyers → grant po-approver",
			change: rbac.Change{Grant: []rbac.Grant{{Subject: "group:buyers", Role: "po-approver", Scope: "dept:finance"}}}},
		{name: "through an org unit and inheritance", conflict: true, rule: "po-roles", subject: "user:hank", path: "unit:procurement → grant senior-buyer at org → role:senior-buyer → role:po-creator",
			change: rbac.Change{Grant: []rbac.Grant{{Subject: "user:hank", Role: "po-approver", Scope: "dept:parks"}}}},
		{name: "joining a group", conflict: true, rule: "po-roles", subject: "user:ivan",
			change: rbac.Change{Join: []rbac.Membership{{Member: "user:ivan", Group: "group:buyers"}}}},
		{name: "through a composite", conflict: true, rule: "po-roles", subject: "user:gina", path: "role:finance-director → role:po-approver",
			change: rbac.Change{Grant: []rbac.Grant{{Subject: "user:gina", Role: "finance-director", Scope: "dept:finance"}}}},
		{name: "one composite holding both", conflict: true, rule: "po-roles", subject: "user:jo", path: "role:finance-all → role:senior-buyer → role:po-creator",
			change: rbac.Change{Grant: []rbac.Grant{{Subject: "user:jo", Role: "finance-all", Scope: "dept:parks"}}}},
		{name: "permission rule through a wildcard", conflict: true, rule: "po-perms", subject: "user:kim", path: "allow finance.po.*",
			change: rbac.Change{Grant: []rbac.Grant{{Subject: "user:kim", Role: "po-wild", Scope: "dept:parks"}}}},
		{name: "a role that denies one side does not hold it",
			change: rbac.Change{Grant: []rbac.Grant{{Subject: "user:kim", Role: "po-wild-no-approve", Scope: "dept:parks"}}}},
		{name: "temporary grants whose windows overlap", conflict: true, rule: "po-roles", subject: "user:lee",
			change: rbac.Change{Grant: []rbac.Grant{
				{Subject: "user:lee", Role: "po-creator", Scope: "dept:finance", NotBefore: f1, NotAfter: u1},
				{Subject: "user:lee", Role: "po-approver", Scope: "dept:finance", NotBefore: f2, NotAfter: u2},
			}}},
		{name: "temporary grants back to back do not overlap",
			change: rbac.Change{Grant: []rbac.Grant{
				{Subject: "user:lee", Role: "po-creator", Scope: "dept:finance", NotBefore: f1, NotAfter: u1},
				{Subject: "user:lee", Role: "po-approver", Scope: "dept:finance", NotBefore: f3, NotAfter: u3},
			}}},
		{name: "a scope covering the other overlaps", conflict: true, rule: "po-roles", subject: "user:ivan",
			change: rbac.Change{Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "facility:annex"}}}},
		{name: "a rule applies at any scopes, disjoint ones too", conflict: true, rule: "po-roles", subject: "user:ivan",
			change: rbac.Change{Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "dept:parks"}}}},
		{name: "waived", base: func(m *rbac.Model) {
			m.Waivers = []rbac.Waiver{
				{Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "two-person town hall", NotAfter: noon.Add(time.Hour)},
				{Rule: "po-perms", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "two-person town hall"},
			}
		}, change: rbac.Change{At: noon, Grant: []rbac.Grant{{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}}}},
		{name: "a role edit that creates a violation", conflict: true, rule: "po-roles", subject: "user:ivan",
			change: rbac.Change{PutRoles: []rbac.Role{{ID: "po-approver", Inherits: []rbac.RoleID{"po-creator"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := finance()
			if tt.base != nil {
				tt.base(&m)
			}
			_, err := update(t, m, tt.change)
			if !tt.conflict {
				if err != nil {
					t.Fatalf("Update: %v, want accepted", err)
				}
				return
			}
			var ce *rbac.ConflictError
			if !errors.As(err, &ce) || !errors.Is(err, rbac.ErrConflict) {
				t.Fatalf("Update: %v, want a *ConflictError", err)
			}
			if len(ce.First) == 0 || len(ce.Second) == 0 || ce.Rule != ce.Violations[0].Rule {
				t.Errorf("conflict lacks a path or rule: %v", err)
			}
			if !strings.Contains(err.Error(), ce.Rule) || !strings.Contains(err.Error(), ce.First.String()) {
				t.Errorf("message %q does not name the rule and paths", err)
			}
			found := false
			for _, v := range ce.Violations {
				paths := v.First.Path.String() + " | " + v.Second.Path.String()
				if v.Rule == tt.rule && v.Subject == tt.subject && strings.Contains(paths, tt.path) {
					found = true
				}
			}
			if !found {
				t.Errorf("no violation of %s by %s through %q in %v", tt.rule, tt.subject, tt.path, ce.Violations)
			}
		})
	}
}

func TestConflictRuleValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		rule     rbac.ConflictRule
		notFound bool
	}{
		{name: "missing first role", rule: rbac.ConflictRule{ID: "x", Roles: [2]rbac.RoleID{"ghost", "po-approver"}}, notFound: true},
		{name: "missing second role", rule: rbac.ConflictRule{ID: "x", Roles: [2]rbac.RoleID{"po-creator", "ghost"}}, notFound: true},
		{name: "one role only", rule: rbac.ConflictRule{ID: "x", Roles: [2]rbac.RoleID{"po-creator"}}},
		{name: "same role twice", rule: rbac.ConflictRule{ID: "x", Roles: [2]rbac.RoleID{"po-creator", "po-creator"}}},
		{name: "roles and permissions", rule: rbac.ConflictRule{ID: "x", Roles: [2]rbac.RoleID{"po-creator", "po-approver"}, Permissions: [2]rbac.Permission{"a.b.c", "a.b.d"}}},
		{name: "nothing", rule: rbac.ConflictRule{ID: "x"}},
		{name: "bad id", rule: rbac.ConflictRule{ID: "Bad Id", Roles: [2]rbac.RoleID{"po-creator", "po-approver"}}},
		{name: "wildcard permission", rule: rbac.ConflictRule{ID: "x", Permissions: [2]rbac.Permission{"finance.po.*", "finance.po.approve"}}},
		{name: "duplicate id", rule: rbac.ConflictRule{ID: "po-roles", Roles: [2]rbac.RoleID{"po-creator", "budget-officer"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := finance()
			m.Conflicts = append(m.Conflicts, tt.rule)
			_, err := rbac.Compile(m)
			if !errors.Is(err, rbac.ErrInvalidInput) {
				t.Fatalf("Compile: %v, want ErrInvalidInput", err)
			}
			if errors.Is(err, rbac.ErrNotFound) {
				t.Errorf("a model naming a missing role is invalid, not not-found: %v", err)
			}
			// The same rule added by a change is refused with one sentinel:
			// not found for a missing role, invalid input otherwise.
			_, err = update(t, finance(), rbac.Change{PutConflicts: []rbac.ConflictRule{tt.rule}})
			if tt.rule.ID != "po-roles" && (errors.Is(err, rbac.ErrNotFound) != tt.notFound || errors.Is(err, rbac.ErrInvalidInput) == tt.notFound) {
				t.Errorf("Update: %v, want ErrNotFound %t and ErrInvalidInput %t", err, tt.notFound, !tt.notFound)
			}
		})
	}
}

func TestWaiverValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		w    rbac.Waiver
	}{
		{"group subject", rbac.Waiver{Rule: "po-roles", Subject: "group:buyers", ApprovedBy: "user:b", Reason: "r"}},
		{"self approved", rbac.Waiver{Rule: "po-roles", Subject: "user:a", ApprovedBy: "user:a", Reason: "r"}},
		{"no reason", rbac.Waiver{Rule: "po-roles", Subject: "user:a", ApprovedBy: "user:b", Reason: " "}},
		{"no approver", rbac.Waiver{Rule: "po-roles", Subject: "user:a", Reason: "r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := update(t, finance(), rbac.Change{PutWaivers: []rbac.Waiver{tt.w}}); !errors.Is(err, rbac.ErrInvalidInput) || errors.Is(err, rbac.ErrNotFound) {
				t.Fatalf("Update: %v, want ErrInvalidInput only", err)
			}
		})
	}
	// A waiver for a rule that does not exist names something missing.
	w := rbac.Waiver{Rule: "ghost", Subject: "user:a", ApprovedBy: "user:b", Reason: "r"}
	if _, err := update(t, finance(), rbac.Change{PutWaivers: []rbac.Waiver{w}}); !errors.Is(err, rbac.ErrNotFound) || errors.Is(err, rbac.ErrInvalidInput) {
		t.Fatalf("waiver for a missing rule: %v, want ErrNotFound only", err)
	}
}

func TestRuleAddedWhileViolationsExist(t *testing.T) {
	t.Parallel()
	m := finance()
	m.Conflicts = nil
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"})
	next, err := update(t, m, rbac.Change{PutConflicts: []rbac.ConflictRule{{ID: "po-roles", Roles: [2]rbac.RoleID{"po-creator", "po-approver"}}}})
	if err != nil {
		t.Fatalf("adding a rule that existing grants break: %v, want accepted", err)
	}
	p, err := rbac.Compile(next)
	if err != nil {
		t.Fatal(err)
	}
	vs := p.Violations(noon)
	if len(vs) != 1 || vs[0].Subject != "user:ivan" || vs[0].Rule != "po-roles" || vs[0].Waiver != nil {
		t.Fatalf("Violations = %+v, want ivan's one unwaived violation", vs)
	}
	// The existing violation stays; an unrelated change still goes through.
	if _, err := update(t, next, rbac.Change{Grant: []rbac.Grant{{Subject: "user:ivan", Role: "budget-officer", Scope: "dept:finance"}}}); err != nil {
		t.Errorf("unrelated change for a principal with an existing violation: %v", err)
	}
	// A second path to the same conflict is new, and refused.
	_, err = update(t, next, rbac.Change{Join: []rbac.Membership{{Member: "user:ivan", Group: "group:buyers"}}})
	if !errors.Is(err, rbac.ErrConflict) {
		t.Errorf("new path to an existing conflict: %v, want ErrConflict", err)
	}
	// Revoking clears it.
	after, err := update(t, next, rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ = rbac.Compile(after)
	if vs := p.Violations(noon); len(vs) != 0 {
		t.Errorf("after revoke: %+v, want none", vs)
	}
}

func TestViolationsWaivedAndLapsed(t *testing.T) {
	t.Parallel()
	m := finance()
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance"})
	m.Waivers = []rbac.Waiver{{Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "small office", NotAfter: noon.Add(time.Hour)}}
	p, err := rbac.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	vs := p.Violations(noon)
	if len(vs) != 2 { // the role rule and the permission rule
		t.Fatalf("got %d violations, want 2: %+v", len(vs), vs)
	}
	for _, v := range vs {
		if waived := v.Waiver != nil; waived != (v.Rule == "po-roles") {
			t.Errorf("%s waived = %v", v.Rule, waived)
		}
	}
	for _, v := range p.Violations(noon.Add(2 * time.Hour)) {
		if v.Waiver != nil {
			t.Errorf("%s still waived after the waiver lapsed", v.Rule)
		}
	}
}

func TestExpiredOverlapNotReported(t *testing.T) {
	t.Parallel()
	m := finance()
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotAfter: noon})
	p, err := rbac.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	if vs := p.Violations(noon.Add(-time.Minute)); len(vs) != 2 {
		t.Errorf("before the end: %d violations, want 2", len(vs))
	}
	if vs := p.Violations(noon); len(vs) != 0 {
		t.Errorf("after the end: %+v, want none", vs)
	}
}

func TestDeleteConflictsAndWaivers(t *testing.T) {
	t.Parallel()
	m := finance()
	m.Waivers = []rbac.Waiver{{Rule: "po-roles", Subject: "user:ivan", ApprovedBy: "user:cfo", Reason: "r"}}
	tests := []struct {
		name string
		c    rbac.Change
	}{
		{"missing rule", rbac.Change{DeleteConflicts: []string{"ghost"}}},
		{"missing waiver", rbac.Change{DeleteWaivers: []rbac.WaiverKey{{Rule: "po-roles", Subject: "user:nobody"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := update(t, m, tt.c); !errors.Is(err, rbac.ErrNotFound) {
				t.Fatalf("Update: %v, want ErrNotFound", err)
			}
		})
	}
	next, err := update(t, m, rbac.Change{DeleteConflicts: []string{"po-roles"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Waivers) != 0 || len(next.Conflicts) != 1 {
		t.Errorf("after deleting the rule: %d waivers, %d rules; want 0, 1", len(next.Waivers), len(next.Conflicts))
	}
}
