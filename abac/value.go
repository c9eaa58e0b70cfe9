package abac

import (
	"database/sql/driver"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// kind classifies a value after normalisation.
type kind uint8

const (
	kindNull   kind = iota // nil, nil pointer, missing field, driver.Valuer returning nil
	kindString             // any string kind
	kindInt                // any integer kind that fits in int64
	kindOther              // present but neither string nor integer (float, bool, time, ...)
	kindBad                // could not be read (a driver.Valuer returned an error)
)

// value is a normalised scalar: strings and integers compare by kind and
// content; every other kind compares unequal to everything.
type value struct {
	k kind
	s string
	i int64
}

func (v value) comparable() bool { return v.k == kindString || v.k == kindInt }

// same reports whether v and w are comparable and of the same kind, and if
// so whether they are equal.
func same(v, w value) (sameKind, equal bool) {
	if v.k != w.k || !v.comparable() {
		return false, false
	}
	if v.k == kindString {
		return true, v.s == w.s
	}
	return true, v.i == w.i
}

// normalize reads a Go value as a record field, a condition value or a
// subject attribute.
func normalize(x any) value {
	switch t := x.(type) {
	case nil:
		return value{k: kindNull}
	case string:
		return value{k: kindString, s: t}
	case int64:
		return value{k: kindInt, i: t}
	case int:
		return value{k: kindInt, i: int64(t)}
	case int32:
		return value{k: kindInt, i: int64(t)}
	}
	return normalizeReflect(reflect.ValueOf(x))
}

func normalizeReflect(rv reflect.Value) value {
	for {
		switch rv.Kind() {
		case reflect.Invalid:
			return value{k: kindNull}
		case reflect.Pointer, reflect.Interface:
			if rv.IsNil() {
				return value{k: kindNull}
			}
		}
		// Check for driver.Valuer only once nil pointers are ruled out:
		// calling a value-receiver Value method through a nil pointer panics.
		if rv.CanInterface() {
			if vr, ok := rv.Interface().(driver.Valuer); ok {
				dv, err := vr.Value()
				if err != nil {
					return value{k: kindBad}
				}
				return normalizeDriver(dv)
			}
		}
		switch rv.Kind() {
		case reflect.Pointer, reflect.Interface:
			rv = rv.Elem()
			continue
		case reflect.String:
			return value{k: kindString, s: rv.String()}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return value{k: kindInt, i: rv.Int()}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			u := rv.Uint()
			if u > math.MaxInt64 {
				return value{k: kindOther}
			}
			return value{k: kindInt, i: int64(u)}
		default:
			return value{k: kindOther}
		}
	}
}

// normalizeDriver reads the result of driver.Valuer.Value, which is one of
// the driver.Value types.
func normalizeDriver(dv driver.Value) value {
	switch t := dv.(type) {
	case nil:
		return value{k: kindNull}
	case string:
		return value{k: kindString, s: t}
	case int64:
		return value{k: kindInt, i: t}
	default:
		return value{k: kindOther}
	}
}

// canonical returns x as a plain string or int64 (reusing x when it already
// is one), or false when x is neither a string nor an integer.
func canonical(x any) (any, bool) {
	switch x.(type) {
	case string, int64:
		return x, true
	}
	v := normalize(x)
	switch v.k {
	case kindString:
		return v.s, true
	case kindInt:
		return v.i, true
	}
	return nil, false
}

// appendLiteral writes x in rule syntax: integers in decimal, strings in
// single quotes with any quote doubled. Other values, which rules cannot hold,
// are shown in angle brackets.
func appendLiteral(b []byte, x any) []byte {
	v := normalize(x)
	switch v.k {
	case kindString:
		return appendQuoted(b, v.s)
	case kindInt:
		return strconv.AppendInt(b, v.i, 10)
	case kindNull:
		return append(b, "<nil>"...)
	default:
		return append(b, "<"+reflect.TypeOf(x).String()+">"...)
	}
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '\'')
	for {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '\'')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '\'')
}
