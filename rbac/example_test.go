package rbac_test

import (
	"fmt"
	"time"

	"github.com/civic-platform/security/rbac"
)

var exampleNoon = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// Compile a model once, then answer checks from the compiled Policy:
// Resolve turns the permission and scope into a Query, Decide answers it
// for a subject at an instant.
func ExampleCompile() {
	p, err := rbac.Compile(rbac.Model{
		Roles: []rbac.Role{
			{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "inspector", Inherits: []rbac.RoleID{"clerk"}, Permissions: []rbac.Permission{"permits.inspection.close"}},
		},
		Grants: []rbac.Grant{{Subject: "user:alice", Role: "inspector", Scope: "org"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	q, err := p.Resolve("permits.application.read", "dept:building")
	if err != nil {
		fmt.Println(err)
		return
	}
	res := p.Decide("user:alice", q, exampleNoon)
	fmt.Println(res.Allowed, res.Reason)
	res = p.Decide("user:bob", q, exampleNoon)
	fmt.Println(res.Allowed, res.Reason)
	// Output:
	// true allowed by an active grant
	// false subject has no grants
}

// A deny rule wins over every allow, from the role itself or from any
// role that inherits it.
func ExamplePolicy_Decide_deny() {
	p, err := rbac.Compile(rbac.Model{
		Roles: []rbac.Role{
			{ID: "finance", Permissions: []rbac.Permission{"finance.*"}},
			{ID: "auditor", Inherits: []rbac.RoleID{"finance"}, Deny: []rbac.Permission{"finance.gl.post"}},
		},
		Grants: []rbac.Grant{{Subject: "user:dana", Role: "auditor", Scope: "org"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, x := range []rbac.Permission{"finance.gl.read", "finance.gl.post"} {
		q, _ := p.Resolve(x, "org")
		res := p.Decide("user:dana", q, exampleNoon)
		fmt.Println(x, res.Allowed, res.Reason)
	}
	// Output:
	// finance.gl.read true allowed by an active grant
	// finance.gl.post false denied by a deny rule
}

// A grant at a scope covers that scope and every scope beneath it in the
// declared tree, and nothing beside it.
func ExamplePolicy_Decide_scopedGrant() {
	p, err := rbac.Compile(rbac.Model{
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:social"},
			{Scope: "facility:shelter", Parent: "dept:social"},
			{Scope: "dept:roads"},
		},
		Roles:  []rbac.Role{{ID: "caseworker", Permissions: []rbac.Permission{"social.case.read"}}},
		Grants: []rbac.Grant{{Subject: "user:sam", Role: "caseworker", Scope: "dept:social"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range []rbac.Scope{"dept:social", "facility:shelter", "dept:roads", "org"} {
		fmt.Println(s, p.Allows("user:sam", "social.case.read", s, exampleNoon))
	}
	// Output:
	// dept:social true
	// facility:shelter true
	// dept:roads false
	// org false
}

// A grant with a window holds from NotBefore (inclusive) to NotAfter
// (exclusive); the time of a check is a parameter, so a policy needs no
// clock.
func ExamplePolicy_Decide_window() {
	p, err := rbac.Compile(rbac.Model{
		Roles: []rbac.Role{{ID: "acting-manager", Permissions: []rbac.Permission{"permits.application.approve"}}},
		Grants: []rbac.Grant{{Subject: "user:lee", Role: "acting-manager", Scope: "org",
			NotBefore: exampleNoon, NotAfter: exampleNoon.Add(8 * time.Hour)}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	q, _ := p.Resolve("permits.application.approve", "org")
	for _, at := range []time.Duration{-time.Second, 0, 8*time.Hour - time.Nanosecond, 8 * time.Hour} {
		fmt.Println(at, p.Decide("user:lee", q, exampleNoon.Add(at)).Allowed)
	}
	// Output:
	// -1s false
	// 0s true
	// 7h59m59.999999999s true
	// 8h0m0s false
}
