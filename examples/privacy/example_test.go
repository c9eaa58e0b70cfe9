package main

import (
	"context"
	"fmt"
	"os"
)

// Example asks who may see a SIN, previews what removing it from a role
// would change, applies the change, and reads one citizen record masked
// for one officer and unmasked, with audit events, for another.
func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Println("privacy:", err)
	}
	// Output:
	// roles holding crm.citizen.sin.view (4):
	//     hr-admin                 role:hr-admin → allow crm.citizen.*
	//     payroll-processor        role:payroll-processor → allow crm.citizen.sin.view
	//     social-services-worker   role:social-services-worker → allow crm.citizen.sin.view
	//     tax-assessment-officer   role:tax-assessment-officer → allow crm.citizen.sin.view
	// people who may use it (4):
	//     user:hana    user:hana → grant hr-admin at org → role:hr-admin → allow crm.citizen.*
	//     user:paul    user:paul → grant payroll-processor at org → role:payroll-processor → allow crm.citizen.sin.view
	//     user:sara    user:sara → group:social-intake → grant social-services-worker at org → role:social-services-worker → allow crm.citizen.sin.view
	//     user:tom     user:tom → grant tax-assessment-officer at org → role:tax-assessment-officer → allow crm.citizen.sin.view
	//
	// removing crm.citizen.sin.view from tax-assessment-officer would remove access from 1 subject(s):
	//     user:tom at org
	// policy now at revision 2
	//
	// roles holding crm.citizen.sin.view (3):
	//     hr-admin                 role:hr-admin → allow crm.citizen.*
	//     payroll-processor        role:payroll-processor → allow crm.citizen.sin.view
	//     social-services-worker   role:social-services-worker → allow crm.citizen.sin.view
	// people who may use it (3):
	//     user:hana    user:hana → grant hr-admin at org → role:hr-admin → allow crm.citizen.*
	//     user:paul    user:paul → grant payroll-processor at org → role:payroll-processor → allow crm.citizen.sin.view
	//     user:sara    user:sara → group:social-intake → grant social-services-worker at org → role:social-services-worker → allow crm.citizen.sin.view
	//
	// user:tom opens citizen c-1001:
	//     name Jane Roe, SIN ***-***-***, email j***@example.ca
	// user:paul opens citizen c-1001:
	//     audit: pii.viewed user:paul (revision 2) field=SIN key=c-1001 permission=crm.citizen.sin.view scope=org
	//     audit: pii.viewed user:paul (revision 2) field=Email key=c-1001 permission=crm.citizen.email.view scope=org
	//     name Jane Roe, SIN 046454286, email jane.roe@example.ca
}
