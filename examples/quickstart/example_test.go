package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
)

// Example loads a small city's policy into the embedded store and explains
// thirteen decisions: direct, inherited, group and wildcard grants, an
// ended appointment, field-level permissions, deny over allow, a composite
// role and two malformed requests. The store's temporary directory and the
// acting appointment's window, which follow the wall clock, are elided.
func Example() {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		fmt.Println("quickstart:", err)
		return
	}
	tempDir := regexp.MustCompile(`civic-iam-quickstart-[0-9]+`)
	window := regexp.MustCompile(`from \S+ until \S+`)
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		line = tempDir.ReplaceAllString(line, "civic-iam-quickstart-…")
		line = window.ReplaceAllString(line, "from … until …")
		fmt.Println(line)
	}
	// Output:
	// policy loaded into civic-iam-quickstart-…/policy.db at revision 1
	//
	//  1. direct grant at a ward
	//     user:alice permits.application.create at ward:7
	//     → allow: user:alice → grant permit-clerk at ward:7 → role:permit-clerk → allow permits.application.create (revision 1)
	//  2. inherited from a parent role
	//     user:alice permits.application.read at ward:7
	//     → allow: user:alice → grant permit-clerk at ward:7 → role:permit-clerk → role:base-user → allow permits.application.read (revision 1)
	//  3. same grant, another ward
	//     user:alice permits.application.create at ward:3
	//     → deny: no grant in force covers this permission at this scope (revision 1)
	//  4. through a group; dept covers its facility
	//     user:bob permits.application.read at facility:city-hall
	//     → allow: user:bob → group:permit-desk → grant permit-clerk at dept:building → role:permit-clerk → role:base-user → allow permits.application.read (revision 1)
	//  5. acting CBO, wildcard rule, org-wide
	//     user:carol permits.application.approve at ward:3
	//     → allow: user:carol → grant cbo at org from … until … → role:cbo → allow permits.* (revision 1)
	//  6. acting appointment that has ended
	//     user:dave permits.application.approve at dept:building
	//     → deny: no grant in force covers this permission at this scope (revision 1)
	//  7. field-level permission
	//     user:pat crm.citizen.sin.view at ward:7
	//     → allow: user:pat → grant payroll at org → role:payroll → allow crm.citizen.sin.view (revision 1)
	//  8. field-level wildcard
	//     user:erin crm.citizen.email.view at ward:7
	//     → allow: user:erin → grant privacy-officer at org → role:privacy-officer → allow crm.citizen.* (revision 1)
	//  9. deny beats allow
	//     user:erin crm.citizen.sin.view at ward:7
	//     → deny: user:erin → grant privacy-officer at org → role:privacy-officer → deny crm.citizen.sin.view (revision 1)
	// 10. composite role spanning modules
	//     user:frank finance.gl.journal.post at dept:finance
	//     → allow: user:frank → grant finance-manager at dept:finance → role:finance-manager → role:gl-clerk → allow finance.gl.journal.post (revision 1)
	// 11. no grant at all
	//     user:frank permits.application.read at dept:finance
	//     → deny: no grant in force covers this permission at this scope (revision 1)
	// 12. a wildcard in a request is malformed
	//     user:carol permits.* at org
	//     → refused: iam: explain: rbac: invalid permission "permits.*": wildcard not allowed here
	// 13. an unknown scope kind is malformed
	//     user:carol permits.application.read at region:north
	//     → refused: iam: explain: rbac: invalid scope "region:north": unknown scope kind (want org, dept, ward or facility)
	//
	// after revoking alice's grant (revision 2): iam: user:alice lacks permits.application.create at ward:7: subject has no grants
	// a hostile scope name: iam: apply: sqlitestore: apply: rbac: grant: invalid scope "ward:7'; DROP TABLE casbin_rule; --": character not allowed in id (use a-z, 0-9, _ - . @)
	// revision still 2
}
