package rbac

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/instant"
)

// indexModel is a policy with n users, each granted one role at one of a
// few scopes.
func indexModel(n int) Model {
	m := Model{
		Scopes: []ScopeNode{{Scope: "dept:a"}, {Scope: "dept:b"}, {Scope: "ward:1", Parent: "dept:a"}},
		Roles: []Role{
			{ID: "reader", Permissions: []Permission{"crm.case.read", "crm.case.note.read"}},
			{ID: "writer", Inherits: []RoleID{"reader"}, Permissions: []Permission{"crm.case.write", "permits.*"}},
		},
	}
	scopes := []Scope{"org", "dept:a", "dept:b", "ward:1"}
	for i := range n {
		m.Grants = append(m.Grants, Grant{
			Subject: Subject(fmt.Sprintf("user:u%d", i)),
			Role:    []RoleID{"reader", "writer"}[i%2],
			Scope:   scopes[i%len(scopes)],
		})
	}
	return m
}

func TestNameIndexFindsEveryNameAndNoOther(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 2, 7, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			p, err := Compile(indexModel(n))
			if err != nil {
				t.Fatal(err)
			}
			if p.Subjects() != n {
				t.Fatalf("Subjects() = %d, want %d", p.Subjects(), n)
			}
			for i := range n {
				sub := Subject(fmt.Sprintf("user:u%d", i))
				si, ok := p.subject(sub)
				if !ok || p.subjects[si].name != sub {
					t.Fatalf("subject(%s) = %d, %v", sub, si, ok)
				}
			}
			for _, sub := range []Subject{"", "user:u", "user:u-1", Subject(fmt.Sprintf("user:u%d", n)), "user:u0\x00", "USER:u0", "role:reader"} {
				if si, ok := p.subject(sub); ok {
					t.Errorf("subject(%q) = %d, true; want not found", sub, si)
				}
			}
			for i, x := range p.permNames {
				if got, ok := p.permission(x); !ok || got != int32(i) {
					t.Errorf("permission(%s) = %d, %v; want %d", x, got, ok, i)
				}
			}
			for _, x := range []Permission{"", "crm.case", "crm.case.read.", "permits.*", "permits.", "crm.case.readx"} {
				if got, ok := p.permission(x); ok {
					t.Errorf("permission(%q) = %d, true; want not found", x, got)
				}
			}
			for i, s := range p.scopes {
				if got, ok := p.scope(s.name); !ok || got != int32(i) {
					t.Errorf("scope(%s) = %d, %v; want %d", s.name, got, ok, i)
				}
			}
			if got, ok := p.scope("ward:2"); ok {
				t.Errorf("scope(ward:2) = %d, true; want not found", got)
			}
		})
	}
}

// TestPermsWithManyGrants checks the cached form of a subject's grants
// against the uncached check when the subject holds more grants in force
// than Perms keeps inline, including a deny and grants that have expired
// or not begun.
func TestPermsWithManyGrants(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := Model{
		Scopes: []ScopeNode{
			{Scope: "dept:a"}, {Scope: "dept:b"}, {Scope: "dept:c"},
			{Scope: "ward:1", Parent: "dept:a"}, {Scope: "ward:2", Parent: "dept:b"}, {Scope: "facility:f", Parent: "dept:c"},
		},
		Roles: []Role{
			{ID: "reader", Permissions: []Permission{"crm.case.read"}},
			{ID: "writer", Inherits: []RoleID{"reader"}, Permissions: []Permission{"crm.case.write"}},
			{ID: "no-write", Deny: []Permission{"crm.case.write"}},
			{ID: "permits", Permissions: []Permission{"permits.*"}},
		},
		Members: []Membership{{Member: "user:x", Group: "group:g"}},
		Grants: []Grant{
			{Subject: "user:x", Role: "reader", Scope: "dept:a"},
			{Subject: "user:x", Role: "writer", Scope: "dept:b"},
			{Subject: "user:x", Role: "writer", Scope: "dept:c"},
			{Subject: "user:x", Role: "no-write", Scope: "facility:f"},
			{Subject: "user:x", Role: "permits", Scope: "ward:1"},
			{Subject: "user:x", Role: "permits", Scope: "ward:2", NotAfter: at.Add(-time.Hour)},
			{Subject: "user:x", Role: "writer", Scope: "ward:1", NotBefore: at.Add(time.Hour)},
			{Subject: "group:g", Role: "writer", Scope: "ward:2"},
			{Subject: "group:g", Role: "reader", Scope: "org"},
		},
	}
	p, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	ps := p.effective("user:x", instant.Of(at))
	if ps.n <= int32(len(ps.few)) || len(ps.active()) != int(ps.n) {
		t.Fatalf("user:x has %d grants in force (active %d); the test needs more than %d", ps.n, len(ps.active()), len(ps.few))
	}
	// In force from the end of the expired grant to the start of the
	// future one: [at-1h, at+1h).
	if ps.from != instant.Of(at.Add(-time.Hour)) || ps.until != instant.Of(at.Add(time.Hour)) {
		t.Errorf("grants in force over [%d, %d), want [at-1h, at+1h) around %d", ps.from, ps.until, instant.Of(at))
	}
	allowed := 0
	for _, x := range []Permission{"crm.case.read", "crm.case.write", "permits.application.approve", "finance.gl.post"} {
		for _, s := range p.scopes {
			q, err := p.Resolve(x, s.name)
			if err != nil {
				t.Fatal(err)
			}
			cold := p.Decide("user:x", q, at)
			held, err := p.Permissions("user:x", s.name, at)
			if err != nil {
				t.Fatal(err)
			}
			if p.KnowsPermission(x) && cold.Allowed != slices.Contains(held, x) {
				t.Errorf("%s at %s: Decide %v (%v), Permissions %v", x, s.name, cold.Allowed, cold.Reason, held)
			}
			if cold.Allowed {
				allowed++
			}
		}
	}
	if allowed == 0 {
		t.Fatal("nothing allowed: the comparison proves nothing")
	}
	q, _ := p.Resolve("crm.case.write", "facility:f")
	if r := p.Decide("user:x", q, at); r.Allowed || r.Reason != ReasonDenyRule {
		t.Errorf("crm.case.write at facility:f = %+v, want denied by the deny rule", r)
	}
}

// TestDuplicatesInTheModel: a grant listed twice is refused, naming it; a
// membership listed twice counts once.
func TestDuplicatesInTheModel(t *testing.T) {
	t.Parallel()
	m := Model{
		Roles:   []Role{{ID: "reader", Permissions: []Permission{"crm.case.read"}}, {ID: "writer", Permissions: []Permission{"crm.case.write"}}},
		Members: []Membership{{Member: "user:x", Group: "group:g"}, {Member: "user:y", Group: "group:g"}, {Member: "user:x", Group: "group:g"}},
		Grants:  []Grant{{Subject: "group:g", Role: "reader", Scope: "org"}, {Subject: "group:g", Role: "writer", Scope: "org"}},
	}
	p, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	si, _ := p.subject("user:x")
	if s := p.subjects[si]; s.end-s.start != 2 || s.mend-s.mstart != 1 {
		t.Errorf("user:x has %d grants through %d containers, want 2 through 1", s.end-s.start, s.mend-s.mstart)
	}
	m.Grants = append(m.Grants, Grant{Subject: "group:g", Role: "writer", Scope: "org", Reason: "again"})
	if _, err := Compile(m); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "granted twice") || !strings.Contains(err.Error(), "writer") {
		t.Errorf("a grant listed twice: %v", err)
	}
}
