package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// Example simulates three months of service accounts calling with API keys:
// a review finds keys due for rotation and unused ones, three keys rotate
// with an overlap, and the report lists the controls it evidences. Lines
// naming a key by its random id are left out.
func Example() {
	var out bytes.Buffer
	if err := run(context.Background(), &out, ""); err != nil {
		fmt.Println("apikeys:", err)
		return
	}
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "  due:") || strings.HasPrefix(line, "  unused:") || strings.Contains(line, "old key") {
			continue
		}
		fmt.Println(line)
	}
	// Output:
	// day 30: 12 service accounts, 34 keys
	// days 0-79: 6760 authorized calls
	// review on day 80: active keys 34, accounts 12, due soon 3, overdue 0, unused 60+ days 2
	// day 84: permits-portal switches to its new key
	// day 84: permits-gis switches to its new key
	// day 84: crm-sync switches to its new key
	// days 80-87: failed calls during the rotations: 0
	// report on day 88: active keys 34, accounts 12, due soon 0, overdue 0, unused 60+ days 2
	//   evidences SOC 2 CC6.1 (logical access: credentials of non-human accounts inventoried, hashed, least privilege by narrowing)
	//   evidences SOC 2 CC6.2 (access provisioned and removed: creation, rotation, revocation and disabling are recorded events)
	//   evidences NIST CSF 2.0 PR.AA-01 (identities and credentials for devices and services are managed)
	//   evidences NIST CSF 2.0 PR.AA-05 (access permissions are defined, managed and reviewed: each key's effective permissions)
	//   evidences ISO/IEC 27001:2022 A.5.17 (authentication information: rotation deadlines and unused credentials)
	//   evidences ISO/IEC 27001:2022 A.5.18 (access rights: provisioned, reviewed and removed)
	// events: service_account.created=12 apikey.created=34 apikey.rotated=3 apikey.used_after_overlap=3
}
