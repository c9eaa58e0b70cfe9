package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// Example adds a segregation-of-duties rule, is refused a conflicting
// assignment and a conflicting group membership, relays the events from the
// outbox and summarises compliance. The CSV and JSON reports that follow in
// the output carry the time they were generated and are left out.
func Example() {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		fmt.Println("sod:", err)
		return
	}
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "--- ") {
			break
		}
		fmt.Println(strings.TrimRight(line, " "))
	}
	// Output:
	// roles: finance-director (Directeur des finances), purchasing-agent (Agent d'approvisionnement)
	// rule added: po-create-approve (purchasing-agent / finance-director)
	// assign fiona purchasing-agent: blocked by po-create-approve
	//   first:  user:fiona → grant purchasing-agent at dept:finance → role:purchasing-agent
	//   second: user:fiona → grant finance-director at dept:finance → role:finance-director
	// add fiona to group:purchasing: blocked by po-create-approve
	//   first:  user:fiona → group:purchasing → grant purchasing-agent at dept:finance → role:purchasing-agent
	//   second: user:fiona → grant finance-director at dept:finance → role:finance-director
	// assign quinn purchasing-agent: ok
	// audit sink: 4 events about the 2 refused changes (one per rule broken), 3 relayed from the outbox
	//   event: role.assignment_blocked user:fiona
	//   event: role.assignment_blocked user:fiona
	//   event: role.assignment_blocked user:fiona
	//   event: role.assignment_blocked user:fiona
	//   event: sod.rule.changed
	//   event: sod.rule.changed
	//   event: role.assigned user:quinn
	// compliance: 2 rules, 0 open violations, 0 waived
}
