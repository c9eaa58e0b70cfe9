package masking

import "unicode/utf8"

// Masker turns a stored value into what a caller without the unmasking
// permission sees. It must be pure and safe for concurrent use; it is
// called on the request path. Returning a constant does not allocate.
type Masker func(string) string

// Names of the built-in masks, for the mask struct tag. They cannot be
// replaced by [Options.Maskers].
const (
	MaskSIN    = "sin"    // always "***-***-***", whatever is stored
	MaskEmail  = "email"  // "jane.doe@example.ca" → "j***@example.ca"
	MaskPhone  = "phone"  // "(613) 555-1234" → "***-***-1234"
	MaskDOB    = "dob"    // always "****-**-**"
	MaskPostal = "postal" // "k1a 0b1" → "K1A ***"
	MaskRedact = "redact" // always "[REDACTED]"; zeroes non-string fields
)

// Constant outputs of the built-in masks.
const (
	RedactedMask = "[REDACTED]"
	DOBMask      = "****-**-**"
	emailMask    = "***"
	phoneMask    = "***-***-****"
	postalMask   = "*** ***"
)

// builtin returns the built-in masker with the given name.
func builtin(name string) (Masker, bool) {
	switch name {
	case MaskSIN:
		return maskSIN, true
	case MaskEmail:
		return maskEmail, true
	case MaskPhone:
		return maskPhone, true
	case MaskDOB:
		return maskDOB, true
	case MaskPostal:
		return maskPostal, true
	case MaskRedact:
		return maskRedact, true
	}
	return nil, false
}

func maskSIN(string) string    { return SINMask }
func maskDOB(string) string    { return DOBMask }
func maskRedact(string) string { return RedactedMask }

// maskEmail keeps the first character of the local part and the domain.
// Empty stays empty; anything without a local part and a domain becomes
// "***".
func maskEmail(s string) string {
	if s == "" {
		return ""
	}
	at := -1
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '@' {
			at = i
			break
		}
	}
	if at <= 0 || at == len(s)-1 {
		return emailMask
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError || r < ' ' || r == '@' {
		return "*" + emailMask + s[at:]
	}
	return s[:size] + emailMask + s[at:]
}

// maskPhone keeps the last four ASCII digits. Empty stays empty; fewer than
// four digits become "***-***-****".
func maskPhone(s string) string {
	if s == "" {
		return ""
	}
	buf := [12]byte{'*', '*', '*', '-', '*', '*', '*', '-'}
	n := 0
	for i := len(s) - 1; i >= 0 && n < 4; i-- {
		if c := s[i]; c >= '0' && c <= '9' {
			n++
			buf[12-n] = c
		}
	}
	if n < 4 {
		return phoneMask
	}
	return string(buf[:])
}

// maskPostal keeps the forward sortation area (the first three characters)
// of a Canadian postal code, upper-cased: "k1a0b1" → "K1A ***". Empty stays
// empty; anything that is not letter-digit-letter digit-letter-digit (spaces
// and one dash ignored) becomes "*** ***".
func maskPostal(s string) string {
	if s == "" {
		return ""
	}
	var c [6]byte
	n := 0
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b == ' ' || b == '-' {
			continue
		}
		if n == len(c) {
			return postalMask
		}
		if b >= 'a' && b <= 'z' {
			b -= 'a' - 'A'
		}
		c[n] = b
		n++
	}
	if n != len(c) {
		return postalMask
	}
	for i, b := range c {
		letter := b >= 'A' && b <= 'Z'
		digit := b >= '0' && b <= '9'
		if (i%2 == 0 && !letter) || (i%2 == 1 && !digit) {
			return postalMask
		}
	}
	buf := [7]byte{c[0], c[1], c[2], ' ', '*', '*', '*'}
	return string(buf[:])
}
