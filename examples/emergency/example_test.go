package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// Example activates an emergency role for eight hours, acts under it, lets
// the window lapse and the reaper remove the grant, then reviews what was
// done. The review line names the activation by a random id and is left out.
func Example() {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		fmt.Println("emergency:", err)
		return
	}
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "review:") {
			continue
		}
		fmt.Println(strings.TrimRight(line, " "))
	}
	// Output:
	// role emergency-operations (Emergency Operations / Opérations d'urgence): emergency=true composite=true
	// activate for 0s: refused (iam: activate emergency: rbac: invalid emergency window 0s: must be more than zero and at most 24h0m0s)
	// activate for -1h0m0s: refused (iam: activate emergency: rbac: invalid emergency window -1h0m0s: must be more than zero and at most 24h0m0s)
	// activate for 36h0m0s: refused (iam: activate emergency: rbac: invalid emergency window 36h0m0s: must be more than zero and at most 24h0m0s)
	// activated emergency-operations for user:dana from 2026-04-18T03:00:00Z until 2026-04-18T11:00:00Z
	// 03:05 publicworks.road.close at dept:publicworks: allowed=true
	// 03:15 utilities.water.valve.operate at dept:publicworks: allowed=true
	// 03:35 fire.apparatus.dispatch at dept:fire: allowed=true
	// 04:20 transit.route.detour at dept:transit: allowed=true
	// 06:20 finance.po.approve at dept:finance: allowed=false
	// 14:20 after the window: allowed=false
	// reaper removed 1 grant(s) at revision 3
	//   03:05 publicworks.road.close           allowed=true  user:dana → grant emergency-operations at org from 2026-04-18T03:00:00Z until 2026-04-18T11:00:00Z → role:emergency-operations → allow publicworks.*
	//   03:15 utilities.water.valve.operate    allowed=true  user:dana → grant emergency-operations at org from 2026-04-18T03:00:00Z until 2026-04-18T11:00:00Z → role:emergency-operations → allow utilities.*
	//   03:35 fire.apparatus.dispatch          allowed=true  user:dana → grant emergency-operations at org from 2026-04-18T03:00:00Z until 2026-04-18T11:00:00Z → role:emergency-operations → allow fire.apparatus.dispatch
	//   04:20 transit.route.detour             allowed=true  user:dana → grant emergency-operations at org from 2026-04-18T03:00:00Z until 2026-04-18T11:00:00Z → role:emergency-operations → allow transit.*
	//   06:20 finance.po.approve               allowed=false
	// exported review.csv (2714 bytes)
	// exported review.json (3727 bytes)
	// event: emergency.activated user:dana
	// event: role.assigned user:dana
	// event: role.expired user:dana
	// event: emergency.ended user:dana
}
