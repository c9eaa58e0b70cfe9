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
	got := out.String()
	for _, want := range []string{
		"roles holding crm.citizen.sin.view (4):",
		"hr-admin                 role:hr-admin → allow crm.citizen.*",
		"tax-assessment-officer   role:tax-assessment-officer → allow crm.citizen.sin.view",
		"people who may use it (4):",
		"user:sara    user:sara → group:social-intake → grant social-services-worker at org",
		"would remove access from 1 subject(s):\n    user:tom at org",
		"policy now at revision 2",
		"roles holding crm.citizen.sin.view (3):",
		"people who may use it (3):",
		"user:tom opens citizen c-1001:\n    name Jane Roe, SIN ***-***-***, email j***@example.ca",
		"audit: pii.viewed user:paul (revision 2) field=SIN key=c-1001 permission=crm.citizen.sin.view scope=org",
		"name Jane Roe, SIN 046454286, email jane.roe@example.ca",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// After the review, neither the role list nor the people list names the
	// tax officer, and the former officer's view is not recorded as a PII view.
	after := got[strings.Index(got, "(3):"):]
	if strings.Contains(after[:strings.Index(after, "opens citizen")], "tax-assessment-officer") {
		t.Errorf("tax-assessment-officer still listed after the removal:\n%s", got)
	}
	if strings.Contains(got, "pii.viewed user:tom") {
		t.Errorf("a masked view was recorded as a PII view:\n%s", got)
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}
