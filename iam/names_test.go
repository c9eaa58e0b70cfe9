package iam_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

var hostileIDs = []string{
	"alice", "permits-api", "7", "a.b@c_d-e", "", " ", "Alice", "alice bob", "alice:admin", "user:alice", "org",
	"a,b", "a;b", "a'--", "'; DROP TABLE casbin_rule; --", "a\x00b", "a\nb", "a/b", "a\\b", "a#b",
	"\u0430lice", "alic\u0435", "ａlice", "alice\u200b", strings.Repeat("a", 128), strings.Repeat("a", 129), "-alice", "_x",
}

// namesAuthorizer grants user:alice a role at dept:building, so that a
// constructed name that validated but meant someone else would show.
func namesAuthorizer(t *testing.T) *iam.Authorizer {
	t.Helper()
	return iamtest.NewAuthorizer(t, rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:building"}},
		Roles:  []rbac.Role{{ID: "reader", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grants: []rbac.Grant{{Subject: "user:alice", Role: "reader", Scope: "dept:building"}},
	})
}

// A constructor either gives the subject or scope of its kind with the id
// as given, or a value every check refuses with ErrInvalidInput: never a
// valid name of another kind, another id, or a normalised look-alike.
func TestNameConstructors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := namesAuthorizer(t)
	subjects := map[rbac.SubjectKind]func(string) iam.Subject{rbac.User: iam.User, rbac.Service: iam.Service, rbac.Group: iam.Group, rbac.Unit: iam.Unit}
	scopes := map[rbac.ScopeKind]func(string) iam.Scope{rbac.Dept: iam.Dept, rbac.Ward: iam.Ward, rbac.Facility: iam.Facility}
	for _, id := range hostileIDs {
		for kind, mk := range subjects {
			s := mk(id)
			if err := s.Validate(); err == nil {
				if s.Kind() != kind || s.ID() != id {
					t.Errorf("%s(%q) = %q: kind %q, id %q", kind, id, s, s.Kind(), s.ID())
				}
				continue
			} else if !errors.Is(err, iam.ErrInvalidInput) {
				t.Errorf("%s(%q).Validate() = %v; want ErrInvalidInput", kind, id, err)
			}
			d, err := a.Check(ctx, s, "permits.application.read", "dept:building")
			if d.Allowed || !errors.Is(err, iam.ErrInvalidInput) {
				t.Errorf("Check(%s(%q)) = %+v, %v; want a denial wrapping ErrInvalidInput", kind, id, d, err)
			}
		}
		for kind, mk := range scopes {
			s := mk(id)
			if err := s.Validate(); err == nil {
				if s.Kind() != kind || s.ID() != id {
					t.Errorf("%s(%q) = %q: kind %q, id %q", kind, id, s, s.Kind(), s.ID())
				}
				continue
			}
			d, err := a.Check(ctx, "user:alice", "permits.application.read", s)
			if d.Allowed || !errors.Is(err, iam.ErrInvalidInput) {
				t.Errorf("Check at %s(%q) = %+v, %v; want a denial wrapping ErrInvalidInput", kind, id, d, err)
			}
		}
	}
	if iam.User("alice") != "user:alice" || iam.Service("permits-api") != "svc:permits-api" || iam.Group("desk") != "group:desk" ||
		iam.Unit("it") != "unit:it" || iam.Dept("building") != "dept:building" || iam.Ward("7") != "ward:7" ||
		iam.Facility("city-hall") != "facility:city-hall" || iam.Org != "org" {
		t.Fatal("constructors do not build the documented names")
	}
	if d, err := a.Check(ctx, iam.User("alice"), "permits.application.read", iam.Dept("building")); err != nil || !d.Allowed {
		t.Fatalf("Check(User, Dept) = %+v, %v", d, err)
	}
}

// FuzzNameConstructors: whatever the id, User(id) is either user:<id>
// with that id or invalid input, and never validates as another kind.
func FuzzNameConstructors(f *testing.F) {
	for _, id := range hostileIDs {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		for _, s := range []iam.Subject{iam.User(id), iam.Service(id), iam.Group(id), iam.Unit(id)} {
			if err := s.Validate(); err == nil && s.ID() != id {
				t.Fatalf("%q validates with id %q, not %q", s, s.ID(), id)
			} else if err != nil && !errors.Is(err, iam.ErrInvalidInput) {
				t.Fatalf("%q: %v", s, err)
			}
		}
		for _, s := range []iam.Scope{iam.Dept(id), iam.Ward(id), iam.Facility(id)} {
			if err := s.Validate(); err == nil && (s.ID() != id || s == iam.Org) {
				t.Fatalf("%q validates with id %q, not %q", s, s.ID(), id)
			}
		}
	})
}

func ExampleUser() {
	alice := iam.User("alice")
	fmt.Println(alice, alice.Kind(), alice.ID())
	fmt.Println(iam.Dept("building"), iam.Ward("7"), iam.Org)
	fmt.Println(iam.User("Alice").Validate() != nil) // upper case: refused, not lowered
	// Output:
	// user:alice user alice
	// dept:building ward:7 org
	// true
}
