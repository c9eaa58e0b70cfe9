package rbac_test

import (
	"slices"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
)

func digestModel() rbac.Model {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return rbac.Model{
		Permissions: []rbac.Permission{"permits.application.read", "crm.citizen.sin.view"},
		Scopes:      []rbac.ScopeNode{{Scope: "dept:building", Parent: "org"}, {Scope: "facility:yard", Parent: "dept:building"}},
		Roles: []rbac.Role{
			{ID: "base", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "clerk", Inherits: []rbac.RoleID{"base"}, Permissions: []rbac.Permission{"permits.*", "crm.citizen.read"}, Deny: []rbac.Permission{"permits.application.approve"}, Labels: map[string]string{"en": "Clerk", "fr": "Commis"}},
		},
		Members:   []rbac.Membership{{Member: "user:alice", Group: "group:desk"}, {Member: "user:bob", Group: "group:desk"}},
		Grants:    []rbac.Grant{{Subject: "group:desk", Role: "clerk", Scope: "dept:building"}, {Subject: "user:carol", Role: "base", Scope: "org", NotBefore: t0, NotAfter: t0.Add(time.Hour), Reason: "acting"}},
		Conflicts: []rbac.ConflictRule{{ID: "po", Roles: [2]rbac.RoleID{"base", "clerk"}, Description: "apart"}},
		Waivers:   []rbac.Waiver{{Rule: "po", Subject: "user:carol", ApprovedBy: "user:dan", Reason: "small town", NotAfter: t0.Add(24 * time.Hour)}},
		Quarantine: []rbac.QuarantinedRow{{ID: 3, PType: "p", Values: []string{"role:base", "*", "permits.application.read", "deny"}, Reason: "bad effect",
			Blocks: []rbac.Subject{"user:alice"}}},
	}
}

// TestDigestIgnoresOrderAndDuplicates: the digest depends on what a model
// says, not on the order of its lists.
func TestDigestIgnoresOrderAndDuplicates(t *testing.T) {
	m := digestModel()
	r := m.Clone()
	slices.Reverse(r.Permissions)
	slices.Reverse(r.Scopes)
	slices.Reverse(r.Roles)
	slices.Reverse(r.Roles[0].Permissions)
	slices.Reverse(r.Members)
	slices.Reverse(r.Grants)
	r.Members = append(r.Members, r.Members[0])
	r.Grants[0].NotBefore = r.Grants[0].NotBefore.In(time.FixedZone("EST", -5*3600))
	if m.Digest() != r.Digest() {
		t.Fatal("reordering a model changed its digest")
	}
}

// TestDigestSeesEveryChange: changing any one thing a model says changes
// its digest.
func TestDigestSeesEveryChange(t *testing.T) {
	base := digestModel().Digest()
	edits := map[string]func(*rbac.Model){
		"permission":     func(m *rbac.Model) { m.Permissions[0] = "permits.application.write" },
		"scope parent":   func(m *rbac.Model) { m.Scopes[1].Parent = "org" },
		"role inherits":  func(m *rbac.Model) { m.Roles[1].Inherits = nil },
		"role emergency": func(m *rbac.Model) { m.Roles[0].Emergency = true },
		"role composite": func(m *rbac.Model) { m.Roles[0].Composite = true },
		"role deny":      func(m *rbac.Model) { m.Roles[1].Deny = nil },
		"deny to allow": func(m *rbac.Model) {
			m.Roles[1].Permissions = append(m.Roles[1].Permissions, m.Roles[1].Deny...)
			m.Roles[1].Deny = nil
		},
		"label":            func(m *rbac.Model) { m.Roles[1].Labels = map[string]string{"en": "Clerk", "fr": "Greffier"} },
		"member":           func(m *rbac.Model) { m.Members = m.Members[:1] },
		"grant scope":      func(m *rbac.Model) { m.Grants[0].Scope = "org" },
		"grant not after":  func(m *rbac.Model) { m.Grants[1].NotAfter = m.Grants[1].NotAfter.Add(time.Nanosecond) },
		"grant open end":   func(m *rbac.Model) { m.Grants[1].NotAfter = time.Time{} },
		"grant at epoch":   func(m *rbac.Model) { m.Grants[1].NotBefore = time.Unix(0, 0) },
		"grant reason":     func(m *rbac.Model) { m.Grants[1].Reason = "" },
		"conflict":         func(m *rbac.Model) { m.Conflicts[0].Roles[1] = "other" },
		"conflict text":    func(m *rbac.Model) { m.Conflicts[0].Description = "" },
		"waiver approver":  func(m *rbac.Model) { m.Waivers[0].ApprovedBy = "user:erin" },
		"waiver window":    func(m *rbac.Model) { m.Waivers[0].NotBefore = m.Waivers[0].NotAfter.Add(-time.Hour) },
		"split of strings": func(m *rbac.Model) { m.Grants[1].Reason = "act"; m.Grants[1].Subject = "user:carolin" },
		"quarantine row added": func(m *rbac.Model) {
			m.Quarantine = append(m.Quarantine, rbac.QuarantinedRow{ID: 7, PType: "p", Values: []string{"role:x", "*", "a.b.c", "deny"}, Reason: "r", Blocks: []rbac.Subject{"user:alice"}})
		},
		"quarantine blocks":  func(m *rbac.Model) { m.Quarantine[0].Blocks = []rbac.Subject{"user:bob"} },
		"quarantine row id":  func(m *rbac.Model) { m.Quarantine[0].ID = 4 },
		"quarantine values":  func(m *rbac.Model) { m.Quarantine[0].Values[2] = "permits.application.write" },
		"quarantine removed": func(m *rbac.Model) { m.Quarantine = nil },
		"implicit scopes":    func(m *rbac.Model) { m.ImplicitScopes = true },
	}
	for name, edit := range edits {
		m := digestModel()
		edit(&m)
		if m.Digest() == base {
			t.Errorf("%s: the digest did not change", name)
		}
	}
}
