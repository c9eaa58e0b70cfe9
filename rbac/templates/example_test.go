package templates_test

import (
	"fmt"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
)

// A permits service registers its own permissions beside the shipped
// catalog, reads the report before deploying, and builds its roles.
func ExampleSet_Extend() {
	set, err := templates.Default()
	if err != nil {
		fmt.Println("templates:", err)
		return
	}
	set, report, err := set.Extend(
		templates.Perm("permits.applicant.read"),
		templates.Perm("permits.applicant.sin.view"), // field-level: treated as PII
	)
	if err != nil {
		fmt.Println("extend:", err)
		return
	}
	fmt.Println("added:", report.Added)
	for _, e := range report.Exposures {
		fmt.Println("review:", e)
	}

	// The chief building official's permits.* would grant the SIN field;
	// the city's role denies it.
	cbo, err := set.Instantiate("cbo", "cbo", templates.Deny("permits.applicant.sin.view"))
	if err != nil {
		fmt.Println("instantiate:", err)
		return
	}
	clerk, err := set.Instantiate("clerk", "permits-clerk", templates.Add("permits.applicant.read"))
	if err != nil {
		fmt.Println("instantiate:", err)
		return
	}
	fmt.Println(cbo.ID, cbo.Deny)
	fmt.Println(clerk.ID, clerk.Permissions[len(clerk.Permissions)-1])
	_ = rbac.Model{Permissions: set.Permissions(), Roles: []rbac.Role{cbo, clerk}} // write with an rbac.Change
	// Output:
	// added: [permits.applicant.read permits.applicant.sin.view]
	// review: template cbo grants PII permission permits.applicant.sin.view through permits.*
	// cbo [permits.applicant.sin.view]
	// permits-clerk permits.applicant.read
}
