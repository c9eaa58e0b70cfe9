package masking

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// SIN is a Canadian Social Insurance Number. Printing it with fmt (any verb,
// including %v, %+v, %#v, %s, %q and %x), logging it with slog, or encoding
// it as JSON or text all produce "***-***-***"; only [SIN.Plain] returns the
// digits, so every disclosure is a call a reviewer can find.
//
// The zero SIN holds no digits and renders as the same mask.
//
// One hole remains that no method can close: fmt cannot call methods on a
// value it reaches through an unexported struct field, so a SIN kept in an
// unexported field is printed raw by %v of the enclosing struct. Keep SINs
// in exported fields.
type SIN struct{ digits string }

// SINMask is what every rendering of a [SIN] produces, and what the "sin"
// mask writes over any stored value.
const SINMask = "***-***-***"

// ParseSIN parses a SIN written as "046454286", "046 454 286" or
// "046-454-286" (surrounding spaces are ignored). It checks for exactly nine
// ASCII digits and a valid Luhn check digit. The error is a [*SINError],
// which wraps [ErrInvalidSIN] and never contains the input.
func ParseSIN(s string) (SIN, error) {
	s = trimSpace(s)
	var d [9]byte
	switch len(s) {
	case 0:
		return SIN{}, &SINError{Reason: "empty"}
	case 9:
		copy(d[:], s)
	case 11:
		if !isSINSep(s[3]) || !isSINSep(s[7]) {
			return SIN{}, &SINError{Reason: "groups must be separated by a space or a dash"}
		}
		copy(d[0:3], s[0:3])
		copy(d[3:6], s[4:7])
		copy(d[6:9], s[8:11])
	default:
		return SIN{}, &SINError{Reason: "want nine digits, optionally grouped three by three"}
	}
	sum := 0
	for i, c := range d {
		if c < '0' || c > '9' {
			return SIN{}, &SINError{Reason: "want nine digits, optionally grouped three by three"}
		}
		n := int(c - '0')
		if i%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	if sum%10 != 0 {
		return SIN{}, &SINError{Reason: "check digit does not match"}
	}
	return SIN{digits: string(d[:])}, nil
}

func isSINSep(c byte) bool { return c == ' ' || c == '-' }

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// Plain returns the nine unmasked digits, or "" for the zero SIN. Call it
// only after an iam decision has allowed the caller to see this field.
func (s SIN) Plain() string { return s.digits }

// IsZero reports whether s holds no digits. It lets encoding/json's
// omitzero option drop an empty SIN.
func (s SIN) IsZero() bool { return s.digits == "" }

// String returns [SINMask].
func (SIN) String() string { return SINMask }

// GoString returns "masking.SIN{***-***-***}", for %#v.
func (SIN) GoString() string { return "masking.SIN{" + SINMask + "}" }

// Format writes the mask for every verb, honouring width and flags: %q
// quotes it, %#v writes [SIN.GoString], and all other verbs (%v, %s, %x, %d,
// ...) write [SINMask] as it stands.
func (s SIN) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, s.GoString())
	case verb == 'q':
		_, _ = fmt.Fprintf(f, fmt.FormatString(f, 'q'), SINMask)
	default:
		_, _ = fmt.Fprintf(f, fmt.FormatString(f, 's'), SINMask)
	}
}

// LogValue makes slog log [SINMask].
func (SIN) LogValue() slog.Value { return slog.StringValue(SINMask) }

// MarshalJSON encodes the mask, "***-***-***".
func (SIN) MarshalJSON() ([]byte, error) { return []byte(`"` + SINMask + `"`), nil }

// MarshalText encodes the mask, ***-***-***.
func (SIN) MarshalText() ([]byte, error) { return []byte(SINMask), nil }

// UnmarshalJSON parses a JSON string with [ParseSIN], so a SIN can be
// decoded from a request body. JSON null leaves s unchanged. A masked value
// sent back by a client does not parse. Errors never contain the input.
func (s *SIN) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return &SINError{Reason: "want a JSON string"}
	}
	return s.UnmarshalText([]byte(str))
}

// UnmarshalText parses text with [ParseSIN]. Errors never contain the input.
func (s *SIN) UnmarshalText(b []byte) error {
	v, err := ParseSIN(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Scan implements [database/sql.Scanner]: it parses a string or []byte
// column with [ParseSIN], and reads NULL as the zero SIN.
func (s *SIN) Scan(src any) error {
	switch src := src.(type) {
	case nil:
		*s = SIN{}
		return nil
	case string:
		return s.UnmarshalText([]byte(src))
	case []byte:
		return s.UnmarshalText(src)
	default:
		return &SINError{Reason: "Scan takes a string, []byte or nil"}
	}
}

// Value implements [database/sql/driver.Valuer] for storage: unlike every
// other method it returns the plain digits, because the database is where
// the SIN lives. The zero SIN is stored as NULL.
func (s SIN) Value() (driver.Value, error) {
	if s.digits == "" {
		return nil, nil
	}
	return s.digits, nil
}
