package csvsafe_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/civic-platform/security/internal/csvsafe"
)

// dangerous reports whether a spreadsheet could read cell as a formula:
// its first character that is not white space, an invisible format
// character or a quotation mark is =, +, -, @, a tab, CR or LF, or folds to
// one of them under NFKC, or is a dash or the minus sign. A leading
// apostrophe makes the cell text.
func dangerous(cell string) bool {
	t := strings.TrimLeftFunc(cell, func(r rune) bool {
		return r != '\t' && r != '\r' && r != '\n' &&
			(unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || strings.ContainsRune("\"`\uff02\uff07\u201a\u201e", r) || unicode.In(r, unicode.Pi, unicode.Pf))
	})
	if t == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(t)
	if unicode.Is(unicode.Pd, r) || r == '\u2212' {
		return true
	}
	f := []rune(norm.NFKC.String(string(r)))
	return len(f) > 0 && strings.ContainsRune("=+-@\t\r\n", f[0])
}

func TestCell(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\nx", "  =cmd|' /C calc'!A0", "＝1+1", "＠x",
		"\u00a0=1", "\u3000+1", "\u200b=1", "\ufeff@x", "\v=1", "\"=1", "\u201c=1", "﹦1", "⁼1", "﹢1", "﹣1", "−1", "–1", "—1", "﹫x"} {
		got := csvsafe.Cell(s)
		if got != "'"+s {
			t.Errorf("Cell(%q) = %q, want it prefixed with a quote", s, got)
		}
	}
	for _, s := range []string{"", "plain", "user:alice", "2025-03-14T12:00:00Z", "a=b", "x-y", "'quoted", "\u00a0plain", "\"quoted\"", "\u200bx", "１２３"} {
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
	for _, s := range []string{"", "=1", "+", "-", "@", "\t", "\r", "\n", " =x", "＝", "plain", "'x", "\u00a0=", "\u200b+", "\"@", "﹦", "−", "\u3000", "\u201a+", "\x00=", "\x1b+"} {
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
