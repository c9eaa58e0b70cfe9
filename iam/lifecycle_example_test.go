package iam_test

import (
	"context"
	"errors"
	"fmt"
	"os"
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

func ExampleAuthorizer_Assign() {
	ctx := context.Background()
	authz, err := iam.New(ctx, iamtest.NewStore(financeModel()))
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	defer authz.Close()

	acting := iam.Grant{Subject: "user:pat", Role: "purchasing-agent", Scope: "dept:finance",
		NotAfter: time.Now().Add(30 * 24 * time.Hour), Reason: "covering a secondment"}
	if _, err := authz.Assign(ctx, acting); err != nil {
		fmt.Println("assign:", err)
		return
	}
	fmt.Println("pat is an acting purchasing agent")

	_, err = authz.Assign(ctx, iam.Grant{Subject: "user:fran", Role: "purchasing-agent", Scope: "dept:finance"})
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

func ExampleAuthorizer_ComplianceReport() {
	ctx := context.Background()
	// Sam held both roles before the rule was written.
	m := financeModel()
	m.Grants = append(m.Grants,
		rbac.Grant{Subject: "user:sam", Role: "purchasing-agent", Scope: "org"},
		rbac.Grant{Subject: "user:sam", Role: "finance-director", Scope: "dept:parks"})
	authz, err := iam.New(ctx, iamtest.NewStore(m), iam.WithClock(iamtest.Clock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))))
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	defer authz.Close()

	rep, err := authz.ComplianceReport(ctx)
	if err != nil {
		fmt.Println("report:", err)
		return
	}
	fmt.Println("open violations:", rep.Open())
	if err := rep.WriteCSV(os.Stdout); err != nil {
		fmt.Println("csv:", err)
	}
	// Output:
	// open violations: 1
	// rule,description,subject,status,first_grant,first_path,second_grant,second_path,from,until,waiver_approved_by,waiver_reason,waiver_until
	// po-create-approve,who raises a PO never approves it,user:sam,violation,user:sam purchasing-agent@org,user:sam → grant purchasing-agent at org → role:purchasing-agent,user:sam finance-director@dept:parks,user:sam → grant finance-director at dept:parks → role:finance-director,,,,,
}
