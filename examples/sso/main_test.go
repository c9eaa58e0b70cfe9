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
	want := []string{
		"event user.provisioned user:sam.girard@lakeview.ca",
		"event sso.mapping.applied user:sam.girard@lakeview.ca",
		"session: user:sam.girard@lakeview.ca methods=oidc level=multi-factor (status 200,",
		"bylaw.ticket.issue at dept:bylaw: true",
		"bylaw.ticket.issue at dept:parks: false",
		"bylaw.ticket.void at dept:bylaw: false",
		"event sso.refused: oidc: tenant not allowed",
		"status 401",
		"event sso.refused: oidc: bad ID token signature",
		"status 401",
	}
	got := out.String()
	last := -1
	for _, w := range want {
		i := strings.Index(got[last+1:], w)
		if i < 0 {
			t.Errorf("output lacks %q after position %d", w, last)
			continue
		}
		last += 1 + i
	}
	if strings.Count(got, "event user.provisioned") != 1 {
		t.Error("the refused sign-ins must provision no one")
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}
