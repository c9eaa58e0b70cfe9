// Package csvsafe writes CSV that a spreadsheet opens as data, never as
// formulas: the one CSV writer every export of the module goes through.
//
// A cell whose text a spreadsheet could read as a formula or a command
// (OWASP "CSV injection") is neutralised by prefixing it with a single
// quote ('), which spreadsheets show as text and do not evaluate. That is
// a cell starting with =, +, -, @, a tab, a carriage return or a line feed,
// or with one of their full-width forms (＝ ＋ － ＠), possibly after
// spaces. Every other cell is written unchanged.
package csvsafe

import (
	"encoding/csv"
	"io"
	"strings"
)

// Cell returns s neutralised for a spreadsheet: s itself if it cannot
// start a formula, otherwise s prefixed with a single quote.
func Cell(s string) string {
	t := strings.TrimLeft(s, " ")
	if t == "" {
		return s
	}
	switch t[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	for _, p := range []string{"＝", "＋", "－", "＠"} {
		if strings.HasPrefix(t, p) {
			return "'" + s
		}
	}
	return s
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
