package reports_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
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

func ExampleCompliance() {
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

	rep, err := reports.Compliance(authz.View())
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
	// evidence,report,sod.compliance,,,,,,,,,,
	// evidence,title,Segregation of duties compliance,,,,,,,,,,
	// evidence,title_fr,Conformité à la séparation des tâches,,,,,,,,,,
	// evidence,schema_version,1,,,,,,,,,,
	// evidence,period_from,2026-03-14T12:00:00Z,,,,,,,,,,
	// evidence,period_to,2026-03-14T12:00:00Z,,,,,,,,,,
	// evidence,policy_revision,1,,,,,,,,,,
	// evidence,generated_at,2026-03-14T12:00:00Z,,,,,,,,,,
	// evidence,generated_by,,,,,,,,,,,
	// evidence,control,SOC 2 CC6.1 (logical access is restricted: conflicting access is refused when assigned),,,,,,,,,,
	// evidence,control,SOC 2 CC6.3 (access is granted by role with segregation of duties; every standing violation is listed),,,,,,,,,,
	// evidence,control,NIST CSF 2.0 PR.AA-05 (access permissions incorporate separation of duties),,,,,,,,,,
	// evidence,control,"ISO/IEC 27001:2022 A.5.3 (segregation of duties: conflicting roles, waivers with approver and expiry)",,,,,,,,,,
	// evidence,control,ISO/IEC 27001:2022 A.5.15 (access control rules are enforced),,,,,,,,,,
}
