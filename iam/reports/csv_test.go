package reports_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/rbac"
)

// formulaStarts are the cell openings a spreadsheet evaluates (OWASP CSV
// injection).
var formulaStarts = []string{"=", "+", "-", "@", "\t", "\r"}

// checkCSV parses an export and fails on any cell that a spreadsheet would
// read as a formula; it also checks that each hostile value is there,
// neutralised rather than dropped.
func checkCSV(t *testing.T, name string, write func(*bytes.Buffer) error, hostile []string) {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("%s: unreadable CSV: %v", name, err)
	}
	cells := map[string]bool{}
	for _, row := range rows {
		for _, c := range row {
			cells[c] = true
			for _, p := range formulaStarts {
				if strings.HasPrefix(c, p) {
					t.Errorf("%s: cell %q starts with %q", name, c, p)
				}
			}
		}
	}
	for _, h := range hostile {
		if !cells["'"+h] {
			t.Errorf("%s: hostile value %q not found neutralised", name, h)
		}
	}
}

func TestCSVExportsNeutraliseFormulas(t *testing.T) {
	t.Parallel()
	noon := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	for _, p := range formulaStarts {
		bad := func(s string) string { return p + s }
		t.Run(strings.TrimSpace(p)+"|"+p, func(t *testing.T) {
			t.Parallel()
			w := &rbac.Waiver{Rule: "po", Subject: "user:a", ApprovedBy: "user:b", Reason: bad("cmd|' /C calc'!A0"), NotAfter: noon}
			comp := reports.ComplianceReport{At: noon, Violations: []iam.Violation{{
				Rule: "po", Description: bad("HYPERLINK(\"http://x\")"), Subject: "user:a",
				First:  rbac.Holding{Grant: rbac.GrantKey{Subject: "user:a", Role: "x", Scope: "org"}, Path: rbac.Path{{Kind: rbac.StepAllow, Name: bad("path")}}},
				Second: rbac.Holding{Grant: rbac.GrantKey{Subject: "user:a", Role: "y", Scope: "org"}},
				Waiver: w,
			}}}
			checkCSV(t, "compliance", func(b *bytes.Buffer) error { return comp.WriteCSV(b) }, []string{bad("HYPERLINK(\"http://x\")"), w.Reason})

			cert := reports.CertificationReport{Department: "dept:a", At: noon, Rows: []reports.CertificationRow{{
				Subject: "user:a", Role: "x", Label: bad("SUM(A1:A9)"), Scope: "dept:a", Reason: bad("acting"),
				Permissions: []rbac.Permission{"a.b.c"},
			}}}
			checkCSV(t, "certification", func(b *bytes.Buffer) error { return cert.WriteCSV(b) }, []string{bad("SUM(A1:A9)"), bad("acting")})

			rv := reports.Review{Activation: iam.Activation{ID: bad("id"), Subject: "user:a", Role: "x", Scope: "org", From: noon, Until: noon.Add(time.Hour)},
				Actions: []reports.Action{{EventID: bad("ev"), Time: noon, Permission: bad("perm"), Scope: bad("scope"), Reason: bad("why"), Path: bad("path")}}}
			checkCSV(t, "emergency review", func(b *bytes.Buffer) error { return rv.WriteCSV(b) },
				[]string{bad("id"), bad("ev"), bad("perm"), bad("scope"), bad("why"), bad("path")})
		})
	}
}
