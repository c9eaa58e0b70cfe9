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
		"role emergency-operations (Emergency Operations / Opérations d'urgence): emergency=true composite=true",
		"activate for 0s: refused",
		"activate for -1h0m0s: refused",
		"activate for 36h0m0s: refused",
		"activated emergency-operations for user:dana from 2026-04-18T03:00:00Z until 2026-04-18T11:00:00Z",
		"03:35 fire.apparatus.dispatch at dept:fire: allowed=true",
		"06:20 finance.po.approve at dept:finance: allowed=false",
		"14:20 after the window: allowed=false",
		"reaper removed 1 grant(s)",
		"review: 5 actions under",
		"ended 2026-04-18T11:00:00Z (window_elapsed)",
		"→ role:emergency-operations → allow utilities.*",
		"exported review.csv",
		"exported review.json",
		"event: emergency.activated user:dana",
		"event: role.expired user:dana",
		"event: emergency.ended user:dana",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q\n%s", want, out.String())
		}
	}
}
