package masking

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// SIN is a Canadian Social Insurance Number. Printing it with fmt (every
// verb, valid or not, with any flags, including %p and %x), logging it with
// slog, or encoding it as JSON, text, XML or gob all produce "***-***-***";
// only [SIN.Plain] returns the digits, so every disclosure is a call a
// reviewer can find. A SIN is not a [database/sql/driver.Valuer]: store it
// through [SINColumn].
//
// The digits are held sealed (AES under a key made at process start), so a
// raw dump of the value that bypasses its methods shows no digits either:
// fmt printing a SIN kept in an unexported field, %p or an invalid verb
// reaching it through reflection, or a reflective pretty-printer. Equal
// SINs compare equal with ==, within one process.
//
// The zero SIN holds no digits and renders as the same mask.
type SIN struct {
	sealed [sinBlock]byte // the digits, sealed with sinCipher; all zero for the zero SIN
	// shown is set only on the private copy an [Engine] encodes as JSON for a
	// caller who holds the field's permission: MarshalJSON then writes the
	// digits. No exported API sets it.
	shown bool
}

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
	return sealSIN(&d), nil
}

// sinBlock is the size of a sealed SIN: one AES block.
const sinBlock = aes.BlockSize

// sinCipher seals the digits of every SIN in this process. Its key is made
// at start-up and never leaves the process, so sealed bytes seen in a dump
// cannot be opened, and equal digits seal to equal bytes.
var sinCipher = func() cipher.Block {
	var key [16]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read does not fail
	b, err := aes.NewCipher(key[:])
	if err != nil {
		panic("masking: " + err.Error()) // unreachable: the key size is valid
	}
	return b
}()

// sealSIN seals nine ASCII digits.
func sealSIN(d *[9]byte) SIN {
	var plain [sinBlock]byte
	plain[0] = 1 // a sealed SIN is never the all-zero block of the zero SIN
	copy(plain[1:], d[:])
	var s SIN
	sinCipher.Encrypt(s.sealed[:], plain[:])
	clear(plain[:])
	return s
}

// open returns the nine digits of s, or false for the zero SIN.
func (s SIN) open() ([9]byte, bool) {
	var d [9]byte
	if s.sealed == ([sinBlock]byte{}) {
		return d, false
	}
	var plain [sinBlock]byte
	sinCipher.Decrypt(plain[:], s.sealed[:])
	if plain[0] != 1 {
		return d, false // not sealed by this process: holds nothing
	}
	copy(d[:], plain[1:10])
	clear(plain[:])
	return d, true
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
func (s SIN) Plain() string {
	d, ok := s.open()
	if !ok {
		return ""
	}
	return string(d[:])
}

// IsZero reports whether s holds no digits. It lets encoding/json's
// omitzero option drop an empty SIN.
func (s SIN) IsZero() bool { return s.sealed == [sinBlock]byte{} }

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

// MarshalJSON encodes the mask, "***-***-***". The one exception is the
// private copy that [Engine.Marshal] (and iam's Masker) encodes for a caller
// who holds the field's permission: there a tagged SIN field the caller may
// see is written as its nine digits, "046454286". No other path can produce
// such a value.
func (s SIN) MarshalJSON() ([]byte, error) {
	if s.shown {
		if d, ok := s.open(); ok {
			b := make([]byte, 0, 11)
			b = append(b, '"')
			b = append(b, d[:]...)
			return append(b, '"'), nil
		}
	}
	return []byte(`"` + SINMask + `"`), nil
}

// reveal marks s, a field of an Engine's private JSON copy, as shown.
func (s *SIN) reveal() { s.shown = true }

// MarshalText encodes the mask, ***-***-***.
func (SIN) MarshalText() ([]byte, error) { return []byte(SINMask), nil }

// GobEncode encodes the mask, like every other encoding: a SIN sent
// through encoding/gob arrives as the mask, which [SIN.GobDecode] refuses,
// so a round trip through gob fails loudly rather than losing the digits.
func (SIN) GobEncode() ([]byte, error) { return []byte(SINMask), nil }

// GobDecode parses like [SIN.UnmarshalText]; the mask written by
// [SIN.GobEncode] does not parse. Errors never contain the input.
func (s *SIN) GobDecode(b []byte) error { return s.UnmarshalText(b) }

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

// SINColumn is a SIN as a database column holds it: the one form of a SIN
// that is a [database/sql/driver.Valuer], so storing a SIN is a conversion a
// reviewer can find (masking.SINColumn{SIN: sin}). It prints, logs and
// encodes as the mask like a SIN (it embeds one); only [SINColumn.Value]
// gives the digits, to the database driver.
//
// A driver.Valuer is also what an SQL logger calls to show a query's
// arguments: gorm's logger prints the digits of every SINColumn in a query
// it logs (slow queries and errors, at its default level). A service that
// stores SINs must configure its SQL logger not to print arguments: with
// gorm, logger.Config{ParameterizedQueries: true}, or a silent logger.
// A plain [SIN] passed to a query by mistake is refused by database/sql, and
// its logged form is the mask; gorm refuses a model with a plain SIN field.
// Declare the column's type where the ORM would guess one, for example
// `gorm:"type:text"`.
type SINColumn struct{ SIN }

// Value implements [database/sql/driver.Valuer] for storage: it returns the
// nine digits, because the database is where the SIN lives. The zero SIN is
// stored as NULL.
func (c SINColumn) Value() (driver.Value, error) {
	d, ok := c.open()
	if !ok {
		return nil, nil
	}
	return string(d[:]), nil
}
