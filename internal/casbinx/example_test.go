package casbinx_test

import (
	"fmt"
	"time"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/rbac"
)

// Example writes a model as the Casbin policy lines the stores keep in
// casbin_rule, then asks a plain Casbin enforcer over those lines the
// question the compiled policy answers: the two must agree.
func Example() {
	m := rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:building"}, {Scope: "ward:7"}},
		Roles: []rbac.Role{
			{ID: "base-user", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "permit-clerk", Inherits: []rbac.RoleID{"base-user"}, Permissions: []rbac.Permission{"permits.application.create"}},
		},
		Grants: []rbac.Grant{{Subject: "user:alice", Role: "permit-clerk", Scope: "ward:7"}},
	}
	lines, err := casbinx.Lines(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range lines {
		fmt.Println(l.PType, l.Values)
	}

	e, err := casbinx.NewEnforcer(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := rbac.Compile(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	for _, scope := range []rbac.Scope{"ward:7", "dept:building"} {
		byCasbin, err := casbinx.Enforce(e, "user:alice", "permits.application.read", scope, at)
		if err != nil {
			fmt.Println(err)
			return
		}
		q, err := p.Resolve("permits.application.read", scope)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: casbin %v, rbac %v\n", scope, byCasbin, p.Decide("user:alice", q, at).Allowed)
	}
	// Output:
	// p [user:alice role:permit-clerk ward:7 00000000000000000000 99999999999999999999 allow]
	// p [user:alice role:permit-clerk ward:7 00000000000000000000 99999999999999999999 deny]
	// g2 [role:base-user meta:role]
	// g2 [role:base-user allow:permits.application.read]
	// g2 [role:permit-clerk meta:role]
	// g2 [role:permit-clerk role:base-user]
	// g2 [role:permit-clerk allow:permits.application.create]
	// g3 [dept:building org]
	// g3 [ward:7 org]
	// ward:7: casbin true, rbac true
	// dept:building: casbin false, rbac false
}
