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
		"roles: finance-director (Directeur des finances), purchasing-agent (Agent d'approvisionnement)",
		"assign fiona purchasing-agent: blocked by po-create-approve",
		"second: user:fiona → grant finance-director at dept:finance → role:finance-director",
		"add fiona to group:purchasing: blocked by po-create-approve",
		"first:  user:fiona → group:purchasing → grant purchasing-agent at dept:finance → role:purchasing-agent",
		"assign quinn purchasing-agent: ok",
		"event: role.assignment_blocked user:fiona",
		"event: role.assigned user:quinn",
		"compliance: 2 rules, 0 open violations, 0 waived",
		"rule,description,subject,status,first_grant",
		`"kind": "sod.compliance"`,
		`"violations": 0`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q\n%s", want, out.String())
		}
	}
}
