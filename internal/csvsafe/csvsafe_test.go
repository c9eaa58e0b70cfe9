package csvsafe_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/civic-platform/security/internal/csvsafe"
)

// dangerous reports whether a spreadsheet could read cell as a formula.
func dangerous(cell string) bool {
	t := strings.TrimLeft(cell, " ")
	if t == "" {
		return false
	}
	return strings.ContainsRune("=+-@\t\r\n", rune(t[0])) ||
		strings.HasPrefix(t, "＝") || strings.HasPrefix(t, "＋") || strings.HasPrefix(t, "－") || strings.HasPrefix(t, "＠")
}

func TestCell(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\nx", "  =cmd|' /C calc'!A0", "＝1+1", "＠x"} {
		got := csvsafe.Cell(s)
		if got != "'"+s {
			t.Errorf("Cell(%q) = %q, want it prefixed with a quote", s, got)
		}
	}
	for _, s := range []string{"", "plain", "user:alice", "2025-03-14T12:00:00Z", "a=b", "x-y", "'quoted"} {
		if got := csvsafe.Cell(s); got != s {
			t.Errorf("Cell(%q) = %q, want unchanged", s, got)
		}
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	rows := [][]string{{"h1", "h2"}, {"=HYPERLINK(\"http://x\")", "ok"}, {"-2+3", "@a"}}
	var buf bytes.Buffer
	if err := csvsafe.Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if rows[1][0] != "=HYPERLINK(\"http://x\")" {
		t.Error("Write modified its input")
	}
	got, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows read back, want %d", len(got), len(rows))
	}
	for i, row := range got {
		for j, c := range row {
			if dangerous(c) {
				t.Errorf("cell %d,%d = %q starts a formula", i, j, c)
			}
			if strings.TrimPrefix(c, "'") != rows[i][j] {
				t.Errorf("cell %d,%d = %q, want %q with at most a quote in front", i, j, c, rows[i][j])
			}
		}
	}
}

// FuzzCell checks that no cell comes out able to start a formula, that a
// cell is changed only by one leading quote, and only when it had to be.
func FuzzCell(f *testing.F) {
	for _, s := range []string{"", "=1", "+", "-", "@", "\t", "\r", "\n", " =x", "＝", "plain", "'x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := csvsafe.Cell(s)
		if dangerous(got) {
			t.Fatalf("Cell(%q) = %q still starts a formula", s, got)
		}
		if got != s && got != "'"+s {
			t.Fatalf("Cell(%q) = %q, want s or a quote and s", s, got)
		}
		if (got != s) != dangerous(s) {
			t.Fatalf("Cell(%q) = %q: changed = %v, dangerous = %v", s, got, got != s, dangerous(s))
		}
	})
}
