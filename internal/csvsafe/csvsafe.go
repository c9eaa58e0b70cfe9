package csvsafe

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// ErrTooLarge is returned by a [Reader] whose input passes its byte limit.
var ErrTooLarge = errors.New("csvsafe: input larger than the limit")

// Reader reads CSV records from an input of bounded size: the other half
// of the module's one CSV package. It strips a leading UTF-8 byte-order
// mark, refuses a UTF-16 one, refuses bare quotes inside fields, and
// stops with [ErrTooLarge] as soon as more than its limit has been read,
// so a huge upload is never held in memory.
type Reader struct {
	cr      *csv.Reader
	counted *countingReader
	limit   int64
}

// NewReader returns a Reader of r that refuses more than limit bytes
// (limit <= 0: no limit). If r can report its size (an *os.File, a
// *bytes.Reader, ...) and the size is over the limit, the first Read
// fails at once without reading anything.
func NewReader(r io.Reader, limit int64) *Reader {
	cnt := &countingReader{r: r, limit: limit}
	if limit > 0 {
		if size, ok := sizeOf(r); ok && size > limit {
			cnt.err = fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, size, limit)
		}
	}
	cr := csv.NewReader(&bomStripper{r: cnt})
	cr.ReuseRecord = false
	return &Reader{cr: cr, counted: cnt, limit: limit}
}

func sizeOf(r io.Reader) (int64, bool) {
	switch v := r.(type) {
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size(), true
		}
	case interface{ Size() int64 }:
		return v.Size(), true
	case interface{ Len() int }:
		return int64(v.Len()), true
	}
	return 0, false
}

// Read returns the next record and the 1-based line it starts on. At the
// end of the input it returns io.EOF. A malformed line is a
// *csv.ParseError naming its line and column; a record with a different
// number of fields than the first is one too.
func (r *Reader) Read() ([]string, int, error) {
	rec, err := r.cr.Read()
	if r.counted.err != nil {
		return nil, 0, r.counted.err
	}
	if err != nil {
		return nil, 0, err
	}
	line, _ := r.cr.FieldPos(0)
	return rec, line, nil
}

type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
	err   error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.limit > 0 && int64(len(p)) > c.limit-c.n+1 {
		p = p[:c.limit-c.n+1]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.limit > 0 && c.n > c.limit {
		c.err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.limit)
		return 0, c.err
	}
	return n, err
}

// bomStripper drops a leading UTF-8 byte-order mark and refuses UTF-16.
type bomStripper struct {
	r       io.Reader
	checked bool
	buf     []byte
}

// ErrEncoding is returned by a [Reader] whose input is UTF-16 (it starts
// with a UTF-16 byte-order mark): export it as UTF-8.
var ErrEncoding = errors.New("csvsafe: input is UTF-16, not UTF-8")

func (b *bomStripper) Read(p []byte) (int, error) {
	if !b.checked {
		b.checked = true
		head := make([]byte, 3)
		n, err := io.ReadAtLeast(b.r, head, 3)
		head = head[:n]
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return 0, err
		}
		switch {
		case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
			head = head[3:]
		case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
			return 0, ErrEncoding
		}
		b.buf = head
	}
	if len(b.buf) > 0 {
		n := copy(p, b.buf)
		b.buf = b.buf[n:]
		return n, nil
	}
	return b.r.Read(p)
}

// Line returns the line a *csv.ParseError names (0 for another error).
func Line(err error) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.StartLine
	}
	return 0
}

// Reason returns the reason of a *csv.ParseError without its position
// (the error's own text for another error).
func Reason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("column %d: %v", pe.Column, pe.Err)
	}
	return err.Error()
}

// Lines makes r read lines of any number of fields, with leading spaces
// trimmed and lines starting with # skipped: the form of Casbin policy
// files ("p, sub, obj, act"). It returns r.
func (r *Reader) Lines() *Reader {
	r.cr.FieldsPerRecord = -1
	r.cr.TrimLeadingSpace = true
	r.cr.Comment = '#'
	return r
}
