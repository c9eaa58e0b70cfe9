package iam_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

func ExampleAuthorizer_Check() {
	ctx := context.Background()
	store := iamtest.NewStore(rbac.Model{
		Roles:  []rbac.Role{{ID: "permit-clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grants: []rbac.Grant{{Subject: "user:alice", Role: "permit-clerk", Scope: "dept:building"}},
	})
	authz, err := iam.New(ctx, store)
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	defer authz.Close()

	for _, perm := range []iam.Permission{"permits.application.read", "permits.application.approve"} {
		d, err := authz.Check(ctx, "user:alice", perm, "dept:building")
		if err != nil {
			fmt.Println("check:", err)
			return
		}
		fmt.Println(perm, d.Allowed)
	}
	// Output:
	// permits.application.read true
	// permits.application.approve false
}

func ExampleAuthorizer_Require() {
	ctx := context.Background()
	authz, err := iam.New(ctx, iamtest.NewStore(rbac.Model{
		Roles:  []rbac.Role{{ID: "cbo", Permissions: []rbac.Permission{"permits.*"}}},
		Grants: []rbac.Grant{{Subject: "user:carol", Role: "cbo", Scope: "dept:building"}},
	}))
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	defer authz.Close()

	for _, scope := range []iam.Scope{"dept:building", "dept:finance", "region:north"} {
		err := authz.Require(ctx, "user:carol", "permits.application.approve", scope)
		switch {
		case err == nil:
			fmt.Println(scope, "allowed")
		case errors.Is(err, iam.ErrDenied):
			fmt.Println(scope, "forbidden") // 403
		case errors.Is(err, iam.ErrInvalidInput):
			fmt.Println(scope, "bad request") // 400: fix the caller
		default:
			fmt.Println(scope, "unavailable") // 503: still a denial
		}
	}
	// Output:
	// dept:building allowed
	// dept:finance forbidden
	// region:north bad request
}

func ExampleAuthorizer_Explain() {
	ctx := context.Background()
	authz, err := iam.New(ctx, iamtest.NewStore(rbac.Model{
		Roles: []rbac.Role{
			{ID: "base-user", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "permit-clerk", Inherits: []rbac.RoleID{"base-user"}},
		},
		Members: []rbac.Membership{{Member: "user:bob", Group: "group:permit-desk"}},
		Grants:  []rbac.Grant{{Subject: "group:permit-desk", Role: "permit-clerk", Scope: "ward:7"}},
	}))
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	defer authz.Close()

	ex, err := authz.Explain(ctx, "user:bob", "permits.application.read", "ward:7")
	if err != nil {
		fmt.Println("explain:", err)
		return
	}
	fmt.Println(ex)
	// Output:
	// allow: user:bob → group:permit-desk → grant permit-clerk at ward:7 → role:permit-clerk → role:base-user → allow permits.application.read
}

func ExampleAuthorizer_WhoCan() {
	ctx := context.Background()
	authz, err := iam.New(ctx, iamtest.NewStore(rbac.Model{
		Roles: []rbac.Role{
			{ID: "payroll", Permissions: []rbac.Permission{"hr.employee.sin.view"}},
			{ID: "hr-admin", Permissions: []rbac.Permission{"hr.employee.*"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:pat", Role: "payroll", Scope: "org"},
			{Subject: "user:hana", Role: "hr-admin", Scope: "dept:hr"},
		},
	}))
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	defer authz.Close()

	acc, err := authz.WhoCan(ctx, "hr.employee.sin.view", "dept:hr")
	if err != nil {
		fmt.Println("who can:", err)
		return
	}
	for _, r := range acc.Roles {
		fmt.Println("role", r.Role, "via", r.Path)
	}
	for _, h := range acc.Subjects {
		fmt.Println(h.Subject, "via", h.Path)
	}
	// Output:
	// role hr-admin via role:hr-admin → allow hr.employee.*
	// role payroll via role:payroll → allow hr.employee.sin.view
	// user:hana via user:hana → grant hr-admin at dept:hr → role:hr-admin → allow hr.employee.*
	// user:pat via user:pat → grant payroll at org → role:payroll → allow hr.employee.sin.view
}
