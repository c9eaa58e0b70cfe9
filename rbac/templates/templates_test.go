package templates_test

import (
	"errors"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
)

func TestDefaultSet(t *testing.T) {
	t.Parallel()
	set, err := templates.Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	for _, id := range []rbac.RoleID{"clerk", "treasurer", "cbo", "fire-chief", "planner", "bylaw-officer", "it-admin", "cao", "emergency-operations"} {
		tm, ok := set.Template(id)
		if !ok {
			t.Errorf("template %s missing", id)
			continue
		}
		if tm.Labels["en"] == "" || tm.Labels["fr"] == "" {
			t.Errorf("%s lacks a label: %v", id, tm.Labels)
		}
	}
	em, _ := set.Template("emergency-operations")
	if !em.Emergency || !em.Composite {
		t.Errorf("emergency-operations is not an emergency composite: %+v", em)
	}
	// Every template, instantiated with the catalog, compiles and grants
	// what it says.
	m := rbac.Model{Permissions: set.Permissions(), Roles: set.Roles()}
	for _, r := range m.Roles {
		if !r.Emergency {
			m.Grants = append(m.Grants, rbac.Grant{Subject: rbac.Subject("user:" + string(r.ID)), Role: r.ID, Scope: "org"})
		}
	}
	p, err := rbac.Compile(m)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	checks := []struct {
		role  rbac.RoleID
		perm  rbac.Permission
		allow bool
	}{
		{"cbo", "permits.application.approve", true},
		{"treasurer", "finance.investment.execute", true},
		{"treasurer", "finance.po.create", false},
		{"it-admin", "it.user.disable", true},
		{"it-admin", "crm.citizen.sin.view", false},
		{"fire-chief", "fire.order.issue", true},
		{"clerk", "clerk.election.results.certify", true},
		{"bylaw-officer", "bylaw.ticket.void", false},
		{"cao", "admin.emergency.declare", true},
	}
	for _, c := range checks {
		if got := p.Allows(rbac.Subject("user:"+string(c.role)), c.perm, "dept:x", noonish); got != c.allow {
			t.Errorf("%s %s = %v, want %v", c.role, c.perm, got, c.allow)
		}
	}
}

func TestInstantiateAndCustomise(t *testing.T) {
	t.Parallel()
	set, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	r, err := set.Instantiate("planner", "senior-planner",
		templates.Add("planning.zoning.amend"), templates.Remove("council.report.submit"),
		templates.Label("en", "Senior Planner"), templates.Label("fr", "Urbaniste principal"))
	if err != nil {
		t.Fatalf("Instantiate: %v", err)
	}
	if r.ID != "senior-planner" || r.Labels["fr"] != "Urbaniste principal" {
		t.Errorf("role = %+v", r)
	}
	has := func(x rbac.Permission) bool {
		for _, y := range r.Permissions {
			if y == x {
				return true
			}
		}
		return false
	}
	if !has("planning.zoning.amend") || has("council.report.submit") {
		t.Errorf("edits not applied: %v", r.Permissions)
	}
	// The template itself is untouched.
	tm, _ := set.Template("planner")
	if tm.Labels["en"] != "Planner" {
		t.Errorf("template changed by an instance: %v", tm.Labels)
	}

	tests := []struct {
		name string
		tmpl rbac.RoleID
		id   rbac.RoleID
		edit templates.Edit
		want error
	}{
		{"unknown template", "mayor", "mayor", nil, rbac.ErrNotFound},
		{"permission outside the catalog", "planner", "p", templates.Add("planning.zoning.demolish"), rbac.ErrInvalidInput},
		{"malformed permission", "planner", "p", templates.Add("Planning"), rbac.ErrInvalidInput},
		{"bad role id", "planner", "Bad Id", nil, rbac.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var edits []templates.Edit
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			if _, err := set.Instantiate(tt.tmpl, tt.id, edits...); !errors.Is(err, tt.want) {
				t.Fatalf("Instantiate: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLoadRefusesBadTemplates(t *testing.T) {
	t.Parallel()
	catalog := &fstest.MapFile{Data: []byte(`{"permissions": ["permits.application.read", "permits.application.approve"]}`)}
	role := func(body string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(body)} }
	tests := []struct {
		name    string
		file    string
		body    string
		unknown bool // an *UnknownPermissionError
	}{
		{name: "unknown permission", file: "clerk", unknown: true,
			body: `{"id":"clerk","labels":{"en":"Clerk","fr":"Greffier"},"permissions":["permits.application.stamp"]}`},
		{name: "wildcard covering nothing", file: "clerk", unknown: true,
			body: `{"id":"clerk","labels":{"en":"Clerk","fr":"Greffier"},"permissions":["fire.*"]}`},
		{name: "unknown deny", file: "clerk", unknown: true,
			body: `{"id":"clerk","labels":{"en":"Clerk","fr":"Greffier"},"permissions":["permits.*"],"deny":["permits.fee.waive"]}`},
		{name: "malformed permission", file: "clerk", unknown: true,
			body: `{"id":"clerk","labels":{"en":"Clerk","fr":"Greffier"},"permissions":["permits"]}`},
		{name: "no french label", file: "clerk",
			body: `{"id":"clerk","labels":{"en":"Clerk"},"permissions":["permits.*"]}`},
		{name: "id does not match file", file: "clerk",
			body: `{"id":"cao","labels":{"en":"CAO","fr":"DG"},"permissions":["permits.*"]}`},
		{name: "unknown field", file: "clerk",
			body: `{"id":"clerk","labels":{"en":"Clerk","fr":"Greffier"},"permissions":["permits.*"],"scope":"org"}`},
		{name: "not json", file: "clerk", body: `{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := fstest.MapFS{"catalog.json": catalog, fmt.Sprintf("roles/%s.json", tt.file): role(tt.body)}
			_, err := templates.Load(fsys)
			if !errors.Is(err, rbac.ErrInvalidInput) {
				t.Fatalf("Load: %v, want ErrInvalidInput", err)
			}
			var ue *templates.UnknownPermissionError
			if errors.As(err, &ue) != tt.unknown {
				t.Errorf("UnknownPermissionError = %v, want %v (%v)", !tt.unknown, tt.unknown, err)
			}
		})
	}
}

var noonish = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
