package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"→ allow: user:alice → grant permit-clerk at ward:7 → role:permit-clerk → allow permits.application.create",
		"→ allow: user:alice → grant permit-clerk at ward:7 → role:permit-clerk → role:base-user → allow permits.application.read",
		"→ deny: no grant in force covers this permission at this scope",
		"→ allow: user:bob → group:permit-desk",
		"→ deny: user:erin → grant privacy-officer at org → role:privacy-officer → deny crm.citizen.sin.view",
		"role:finance-manager → role:gl-clerk → allow finance.gl.journal.post",
		"→ refused: iam: explain: rbac: invalid permission \"permits.*\": wildcard not allowed here",
		"unknown scope kind",
		"after revoking alice's grant (revision 2): iam: user:alice lacks permits.application.create at ward:7",
		"revision still 2",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// dave's appointment ended an hour ago.
	if i := strings.Index(out.String(), "user:dave"); i < 0 || !strings.Contains(out.String()[i:i+200], "→ deny") {
		t.Errorf("expired acting grant not denied:\n%s", out.String())
	}
}
