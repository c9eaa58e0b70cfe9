package iam_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

func financeModel() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:finance"}, {Scope: "dept:parks"}},
		Roles: []rbac.Role{
			{ID: "purchasing-agent", Permissions: []rbac.Permission{"finance.po.create"}},
			{ID: "finance-director", Permissions: []rbac.Permission{"finance.po.approve"}},
		},
		Grants: []rbac.Grant{{Subject: "user:fran", Role: "finance-director", Scope: "dept:finance"}},
		Conflicts: []rbac.ConflictRule{{ID: "po-create-approve", Description: "who raises a PO never approves it",
			Roles: [2]rbac.RoleID{"purchasing-agent", "finance-director"}}},
	}
}

func ExampleAdmin_Assign() {
	ctx := context.Background()
	store := iamtest.NewStore(financeModel())
	authz, err := iam.New(ctx, store)
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	defer authz.Close()
	admin := iam.NewAdmin(authz, store)

	acting := iam.Grant{Subject: "user:pat", Role: "purchasing-agent", Scope: "dept:finance",
		NotAfter: time.Now().Add(30 * 24 * time.Hour), Reason: "covering a secondment"}
	if _, err := admin.Assign(ctx, acting); err != nil {
		fmt.Println("assign:", err)
		return
	}
	fmt.Println("pat is an acting purchasing agent")

	_, err = admin.Assign(ctx, iam.Grant{Subject: "user:fran", Role: "purchasing-agent", Scope: "dept:finance"})
	var conflict *iam.ConflictError
	switch {
	case errors.As(err, &conflict):
		fmt.Println("refused by", conflict.Rule)
		fmt.Println(" first: ", conflict.First)
		fmt.Println(" second:", conflict.Second)
	case err != nil:
		fmt.Println("assign:", err)
	}
	// Output:
	// pat is an acting purchasing agent
	// refused by po-create-approve
	//  first:  user:fran → grant purchasing-agent at dept:finance → role:purchasing-agent
	//  second: user:fran → grant finance-director at dept:finance → role:finance-director
}
