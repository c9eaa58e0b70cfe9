package abac

import (
	"fmt"
	"slices"
	"strconv"
)

// Dialect selects the placeholder style of rendered SQL.
type Dialect uint8

// Dialects. The zero Dialect is invalid.
const (
	// Postgres numbers placeholders $1, $2, ...; AppendSQL continues the
	// numbering after the arguments already in the caller's list.
	Postgres Dialect = iota + 1
	// SQLite writes every placeholder as ?, which is also what gorm's Where
	// and the database/sql drivers for MySQL expect.
	SQLite
)

// String returns "postgres" or "sqlite".
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case SQLite:
		return "sqlite"
	}
	return "dialect(" + strconv.Itoa(int(d)) + ")"
}

// SQL text for the two constant filters.
const (
	sqlTrue  = "(1 = 1)"
	sqlFalse = "(1 = 0)"
)

// SQL renders f as a boolean SQL expression and its arguments, for use in a
// WHERE clause. See [Filter.AppendSQL].
func (f Filter) SQL(d Dialect, cols map[string]string) (string, []any, error) {
	b, args, err := f.AppendSQL(nil, nil, d, cols)
	if err != nil {
		return "", nil, err
	}
	return string(b), args, nil
}

// AppendSQL appends f, rendered as a boolean SQL expression, to dst and its
// arguments to args, and returns both. With [Postgres], placeholders are
// numbered from len(args)+1, so the expression can follow a caller's own
// conditions.
//
// cols maps each logical field to the column expression to compare (for
// example "ward" to "c.ward_id"). It is the only source of SQL text besides
// keywords, operators and placeholders: values are always arguments, never
// spliced, and a column expression should be a column name or another
// primary expression (it is not parenthesised). A field with no entry in
// cols (or an empty one) is a [*FieldError] wrapping [ErrUnknownField]; a
// malformed [Cond] is an error wrapping [ErrInvalidFilter]. On error, dst
// and args are returned unchanged (up to their original lengths).
//
// The expression is always parenthesised, so it composes with other
// conditions in any order: All renders as "(1 = 1)", None as "(1 = 0)",
// and otherwise, for example,
//
//	((ward = $1 AND status IN ($2, $3)) OR (owner = $4 AND facility IS NULL))
//
// NULL is handled as by [Filter.Match]: "=", "!=" and "IN" are false
// against NULL in SQL too. Arguments are plain strings and int64s.
func (f Filter) AppendSQL(dst []byte, args []any, d Dialect, cols map[string]string) ([]byte, []any, error) {
	if d != Postgres && d != SQLite {
		return dst, args, fmt.Errorf("%w: unknown SQL dialect %d", ErrInvalidFilter, d)
	}
	if f.all {
		return append(dst, sqlTrue...), args, nil
	}
	// First pass: validate everything, count the conjunctions that can match.
	n, nargs, size := 0, 0, 2
	for _, c := range f.Any {
		possible := len(c) > 0
		for i := range c {
			ok, err := c[i].check(cols)
			if err != nil {
				return dst, args, err
			}
			possible = possible && ok
		}
		if possible {
			n++
			size += 6
			for i := range c {
				nargs += len(c[i].Values)
				size += len(cols[c[i].Field]) + 18 + 6*len(c[i].Values)
			}
		}
	}
	if n == 0 {
		return append(dst, sqlFalse...), args, nil
	}
	dst = slices.Grow(dst, size)
	args = slices.Grow(args, nargs)
	dst = append(dst, '(')
	first := true
	for _, c := range f.Any {
		if !c.possible() {
			continue
		}
		if !first {
			dst = append(dst, " OR "...)
		}
		first = false
		if n > 1 {
			dst = append(dst, '(')
		}
		for i := range c {
			if i > 0 {
				dst = append(dst, " AND "...)
			}
			dst, args = c[i].appendSQL(dst, args, d, cols[c[i].Field])
		}
		if n > 1 {
			dst = append(dst, ')')
		}
	}
	return append(dst, ')'), args, nil
}

// possible reports whether c can match: it is not empty and has no "in"
// without values. It assumes c passed check.
func (c Conj) possible() bool {
	if len(c) == 0 {
		return false
	}
	for i := range c {
		if c[i].Op == OpIn && len(c[i].Values) == 0 {
			return false
		}
	}
	return true
}

// check validates c against the allow-list and reports whether it can
// match at all.
func (c Cond) check(cols map[string]string) (bool, error) {
	if col := cols[c.Field]; col == "" {
		return false, &FieldError{Field: c.Field}
	}
	want := -1 // any number
	switch c.Op {
	case OpEq, OpNe:
		want = 1
	case OpIsNull, OpIsNotNull:
		want = 0
	case OpIn:
	case OpNotIn:
		if len(c.Values) == 0 {
			return false, fmt.Errorf("%w: field %q: %q takes at least one value", ErrInvalidFilter, c.Field, c.Op)
		}
	default:
		return false, fmt.Errorf("%w: field %q: invalid operator %d", ErrInvalidFilter, c.Field, c.Op)
	}
	if want >= 0 && len(c.Values) != want {
		return false, fmt.Errorf("%w: field %q: %q takes %d values, not %d", ErrInvalidFilter, c.Field, c.Op, want, len(c.Values))
	}
	for _, x := range c.Values {
		if _, ok := canonical(x); !ok {
			return false, fmt.Errorf("%w: field %q: value of type %T is neither a string nor an integer", ErrInvalidFilter, c.Field, x)
		}
	}
	return c.Op != OpIn || len(c.Values) > 0, nil
}

func (c Cond) appendSQL(dst []byte, args []any, d Dialect, col string) ([]byte, []any) {
	dst = append(dst, col...)
	switch c.Op {
	case OpIsNull:
		return append(dst, " IS NULL"...), args
	case OpIsNotNull:
		return append(dst, " IS NOT NULL"...), args
	case OpEq:
		dst = append(dst, " = "...)
	case OpNe:
		dst = append(dst, " <> "...)
	case OpIn:
		dst = append(dst, " IN ("...)
	case OpNotIn:
		dst = append(dst, " NOT IN ("...)
	}
	for i, x := range c.Values {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		v, _ := canonical(x) // checked
		args = append(args, v)
		if d == Postgres {
			dst = append(dst, '$')
			dst = strconv.AppendInt(dst, int64(len(args)), 10)
		} else {
			dst = append(dst, '?')
		}
	}
	if c.Op == OpIn || c.Op == OpNotIn {
		dst = append(dst, ')')
	}
	return dst, args
}
