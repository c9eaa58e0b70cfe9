package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := []string{
		"HR record E1042: joiner, user e1042, bylaw-officer at dept:bylaw",
		"the same record again: unchanged",
		`welcome mail to julie.tremblay@lakeview.ca: "Bienvenue à Ville de Lakeview : activez votre compte" with a one-time link`,
		"activation link used again: refused (true)",
		"first sign-in: session for user:e1042",
		"  may bylaw.case.read at dept:bylaw: true",
		"personal API key: accepted",
		"HR record E1042: mover, revoked bylaw-officer at dept:bylaw, assigned bylaw-officer at dept:parks",
		"  may bylaw.case.read at dept:bylaw: false\n  may bylaw.case.read at dept:parks: true",
		"offboarded: 1 grants revoked, 1 session ended, 1 personal key revoked, accounts disabled [personal-e1042]",
		"old session: refused (true)",
		"old API key: refused (true)",
		"sign-in: refused (true)",
		"  may bylaw.case.read at dept:parks: false",
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}

// TestGoRun runs the example as a user would and checks it exits 0.
func TestGoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example")
	}
	out, err := exec.Command("go", "run", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "old API key: refused (true)") {
		t.Fatalf("output:\n%s", out)
	}
}
