package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/civic-platform/security/session/apikey"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), &out, dir); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	want := []string{
		"day 30: 12 service accounts, 34 keys",
		"review on day 80: active keys 34, accounts 12, due soon 3, overdue 0, unused 60+ days 2",
		"rotated 3 keys; old keys valid until 2026-01-12 09:00",
		"day 84: permits-portal switches to its new key",
		"days 80-87: failed calls during the rotations: 0",
		"report on day 88: active keys 34, accounts 12, due soon 0, overdue 0, unused 60+ days 2",
		"evidences SOC 2 CC6.1", "evidences SOC 2 CC6.2", "evidences NIST CSF 2.0 PR.AA-01",
		"evidences NIST CSF 2.0 PR.AA-05", "evidences ISO/IEC 27001:2022 A.5.17", "evidences ISO/IEC 27001:2022 A.5.18",
		"events: service_account.created=12 apikey.created=34 apikey.rotated=3 apikey.used_after_overlap=3",
	}
	last := -1
	for _, w := range want {
		i := strings.Index(got, w)
		if i < 0 {
			t.Errorf("output lacks %q", w)
			continue
		}
		if i < last {
			t.Errorf("%q out of order", w)
		}
		last = i
	}
	for _, w := range []string{"due: ", "unused: ", "(retired: true)"} {
		n := strings.Count(got, w)
		if want := map[string]int{"due: ": 3, "unused: ": 2, "(retired: true)": 3}[w]; n != want {
			t.Errorf("%d lines with %q, want %d", n, w, want)
		}
	}
	if strings.Contains(got, "refused") {
		t.Error("a client was refused during the rotation")
	}
	if strings.Contains(got, apikey.Prefix) {
		t.Error("output shows a key")
	}

	var r apikey.Report
	b, err := os.ReadFile(filepath.Join(dir, "apikeys-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	s := r.Summary
	if len(r.Rows) != 37 || s.Overdue != 0 || s.DueSoon != 0 || s.Unused != 2 || s.ActiveKeys != 34 || s.Accounts != 12 || len(s.Controls) != 6 {
		t.Fatalf("JSON report: %d rows, summary %+v", len(r.Rows), s)
	}
	retired, unused := 0, 0
	for _, row := range r.Rows {
		if row.State == apikey.StateRetired {
			retired++
		}
		if row.Unused {
			unused++
			if row.Account != "it-backup" && row.Account != "open-data" {
				t.Errorf("unexpected unused key of %s", row.Account)
			}
		}
		if row.State == apikey.StateActive && len(row.May) != 1 {
			t.Errorf("key %s of %s may %v", row.Key, row.Account, row.May)
		}
	}
	if retired != 3 || unused != 2 {
		t.Fatalf("retired %d, unused %d", retired, unused)
	}

	c, err := os.ReadFile(filepath.Join(dir, "apikeys-report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(c)), "\n")
	if lines[0] != strings.Join(apikey.CSVHeader, ",") || len(lines) != 1+37+8+6 {
		t.Fatalf("CSV: %d lines, header %q", len(lines), lines[0])
	}
	for _, w := range []string{"summary,overdue,0", "summary,unused,2", "summary,active_keys,34", "summary,due_soon,0"} {
		if !strings.Contains(string(c), w+"\n") {
			t.Errorf("CSV lacks %q", w)
		}
	}
	if bytes.Contains(b, []byte(apikey.Prefix)) || bytes.Contains(c, []byte(apikey.Prefix)) {
		t.Error("a report holds a key")
	}
}
