package reports_test

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/rbac"
)

// disguisedStarts open a formula behind characters a reader does not see
// or strips (Unicode white space, zero-width and byte-order marks,
// quotation marks), or with a character that stands for a trigger
// (full-width, small and superscript forms, dashes, the minus sign).
var disguisedStarts = []string{
	"\u00a0=", " \u00a0+", "\u3000@", "\u2003-", "\v=", "\f+", "\u200b=", "\ufeff=", "\u2060@",
	"\"=", " \"+", "\u201c=", "\uff02@",
	"\ufe66", "\u207c", "\u208c", "\ufe62", "\u207a", "\ufe63", "\u2212", "\u2010", "\u2013", "\u2014", "\ufe6b", "\uff0d", "\uff1d",
	" \t", "\u00a0\r", "\u200b\n", "\x00=", "\x1b@", "\x7f+",
}

// TestCSVExportsNeutraliseDisguisedFormulas checks every CSV export of the
// package (compliance, certification, emergency review) with cells whose
// formula trigger is disguised: each must come out prefixed with a quote.
func TestCSVExportsNeutraliseDisguisedFormulas(t *testing.T) {
	t.Parallel()
	noon := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	for _, p := range disguisedStarts {
		bad := func(s string) string { return p + s }
		w := &rbac.Waiver{Rule: "po", Subject: "user:a", ApprovedBy: "user:b", Reason: bad("cmd|' /C calc'!A0"), NotAfter: noon}
		comp := reports.ComplianceReport{At: noon, Violations: []iam.Violation{{
			Rule: "po", Description: bad("HYPERLINK(\"http://x\")"), Subject: "user:a",
			First:  rbac.Holding{Grant: rbac.GrantKey{Subject: "user:a", Role: "x", Scope: "org"}},
			Second: rbac.Holding{Grant: rbac.GrantKey{Subject: "user:a", Role: "y", Scope: "org"}},
			Waiver: w,
		}}}
		cert := reports.CertificationReport{Department: "dept:a", At: noon, Rows: []reports.CertificationRow{{
			Subject: "user:a", Role: "x", Label: bad("SUM(A1:A9)"), Scope: "dept:a", Reason: bad("acting"),
			Permissions: []rbac.Permission{"a.b.c"},
		}}}
		rv := reports.Review{Activation: iam.Activation{ID: "a1", Subject: "user:a", Role: "x", Scope: "org", From: noon, Until: noon.Add(time.Hour)},
			Actions: []reports.Action{{EventID: "e1", Time: noon, Permission: "a.b.c", Scope: "org", Reason: bad("why"), Path: bad("path")}}}
		for _, x := range []struct {
			name    string
			write   func(*bytes.Buffer) error
			hostile []string
		}{
			{"compliance", func(b *bytes.Buffer) error { return comp.WriteCSV(b) }, []string{bad("HYPERLINK(\"http://x\")"), w.Reason}},
			{"certification", func(b *bytes.Buffer) error { return cert.WriteCSV(b) }, []string{bad("SUM(A1:A9)"), bad("acting")}},
			{"emergency review", func(b *bytes.Buffer) error { return rv.WriteCSV(b) }, []string{bad("why"), bad("path")}},
		} {
			var buf bytes.Buffer
			if err := x.write(&buf); err != nil {
				t.Fatalf("%s: %v", x.name, err)
			}
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatalf("%s: unreadable CSV: %v", x.name, err)
			}
			cells := map[string]bool{}
			for _, row := range rows {
				for _, c := range row {
					cells[c] = true
				}
			}
			for _, h := range x.hostile {
				if !cells["'"+h] {
					t.Errorf("%s: cell %q not neutralised", x.name, h)
				}
			}
		}
	}
}
