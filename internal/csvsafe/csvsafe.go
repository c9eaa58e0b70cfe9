// Package csvsafe writes CSV that a spreadsheet opens as data, never as
// formulas: the one CSV writer every export of the module goes through.
//
// A cell whose text a spreadsheet could read as a formula or a command
// (OWASP "CSV injection") is neutralised by prefixing it with a single
// quote ('), which spreadsheets show as text and do not evaluate. That is
// a cell whose first significant character is =, +, -, @, a tab, a
// carriage return or a line feed, or a character that stands for one of
// them: a compatibility form whose NFKC normalisation is one of them (＝ ﹦
// ＋ ﹢ － ﹣ ＠ ﹫ and the like), any dash (‐ – — ...) or the minus sign −.
// Characters before it that a reader does not see, or may strip, are not
// significant: Unicode white space (including no-break and ideographic
// spaces), control characters (NUL, ESC, ...), invisible format characters
// (zero-width spaces, the byte-order mark) and quotation marks other than the apostrophe, which already makes
// a spreadsheet read the cell as text. Every other cell is written
// unchanged.
package csvsafe

import (
	"encoding/csv"
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Cell returns s neutralised for a spreadsheet: s itself if it cannot
// start a formula, otherwise s prefixed with a single quote.
func Cell(s string) string {
	if FormulaStart(s) {
		return "'" + s
	}
	return s
}

// FormulaStart reports whether a spreadsheet could read s as a formula or
// a command: whether its first significant character (see the package
// documentation) is a formula trigger.
func FormulaStart(s string) bool {
	for _, r := range s {
		switch {
		case r == '\t' || r == '\r' || r == '\n':
			return true
		case unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || isQuote(r):
			continue
		}
		return isTrigger(r)
	}
	return false
}

// isTrigger reports whether r is, or stands for, =, +, - or @.
func isTrigger(r rune) bool {
	if strings.ContainsRune("=+-@\u2212", r) || unicode.Is(unicode.Pd, r) {
		return true
	}
	if r < 0x80 {
		return false
	}
	n := norm.NFKC.String(string(r))
	return n != "" && strings.ContainsRune("=+-@\t\r\n", []rune(n)[0])
}

// isQuote reports whether r is a quotation mark: ", `, a typographic quote
// or a full-width one. The ASCII apostrophe is not one: a cell that starts
// with it is already text to a spreadsheet.
func isQuote(r rune) bool {
	return r == '"' || r == '`' || unicode.In(r, unicode.Pi, unicode.Pf) ||
		r == '\uFF02' || r == '\uFF07' || r == '\u201A' || r == '\u201E'
}

// Write writes rows to w as CSV, every cell through [Cell], and flushes.
// rows is not modified.
func Write(w io.Writer, rows [][]string) error {
	cw := csv.NewWriter(w)
	for _, row := range rows {
		safe := make([]string, len(row))
		for i, c := range row {
			safe[i] = Cell(c)
		}
		if err := cw.Write(safe); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
