package perm

import (
	"strconv"
	"unicode/utf8"
)

// MaxLen is the longest permission accepted, in bytes.
const MaxLen = 200

// MaxSegmentLen is the longest segment accepted, in bytes.
const MaxSegmentLen = 48

// Kind tells a concrete permission from a wildcard pattern.
type Kind uint8

const (
	// Exact is a concrete permission such as permits.application.approve.
	Exact Kind = iota + 1
	// Wildcard is a grant pattern such as permits.application.*.
	Wildcard
)

// Parsed is the result of [Parse].
type Parsed struct {
	Kind Kind
	// Prefix is, for a wildcard, the text before the `*` including the
	// trailing dot ("permits.application."); for an exact permission, the
	// whole permission.
	Prefix string
	// Segments counts the named segments (3 or 4 for exact; 1 to 3 for a
	// wildcard).
	Segments int
}

// Error describes why a permission was refused. Input is quoted and
// truncated so that an error message never carries a hostile payload verbatim.
type Error struct {
	Input  string
	Reason string
}

// Error implements the error interface.
func (e *Error) Error() string { return "permission " + e.Input + ": " + e.Reason }

// Quote returns a short, printable, quoted form of s for error messages.
func Quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.QuoteToASCII(s[:cut]) + "…(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return strconv.QuoteToASCII(s)
}

func fail(s, reason string) (Parsed, error) {
	return Parsed{}, &Error{Input: Quote(s), Reason: reason}
}

// Parse checks s against the grammar. Wildcards are accepted only when
// allowWildcard is set (grants); requests pass false.
func Parse(s string, allowWildcard bool) (Parsed, error) {
	switch {
	case s == "":
		return fail(s, "empty")
	case len(s) > MaxLen:
		return fail(s, "longer than "+strconv.Itoa(MaxLen)+" bytes")
	}
	segs, segLen := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			segLen++
			if segLen > MaxSegmentLen {
				return fail(s, "segment longer than "+strconv.Itoa(MaxSegmentLen)+" bytes")
			}
		case c == '.':
			if segLen == 0 {
				return fail(s, "empty segment")
			}
			segs++
			segLen = 0
		case c == '*':
			if !allowWildcard {
				return fail(s, "wildcard not allowed here")
			}
			if i != len(s)-1 || segLen != 0 || segs == 0 {
				return fail(s, "a wildcard must be a whole last segment after at least one named segment")
			}
			if segs > 3 {
				return fail(s, "too many segments")
			}
			return Parsed{Kind: Wildcard, Prefix: s[:len(s)-1], Segments: segs}, nil
		case c >= 'A' && c <= 'Z':
			return fail(s, "upper-case letter")
		default:
			return fail(s, "character not allowed (use a-z, 0-9, _ and dots)")
		}
	}
	if segLen == 0 {
		return fail(s, "trailing dot")
	}
	segs++
	if segs < 3 || segs > 4 {
		return fail(s, "want module.entity.action or module.entity.field.action")
	}
	return Parsed{Kind: Exact, Prefix: s, Segments: segs}, nil
}

// WildcardPrefixes calls fn with each wildcard prefix that could cover the
// exact permission s, shortest first: for "crm.citizen.sin.view" that is
// "crm.", "crm.citizen." and "crm.citizen.sin.". The prefixes are substrings
// of s, so no allocation happens.
func WildcardPrefixes(s string, fn func(prefix string) bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			if !fn(s[:i+1]) {
				return
			}
		}
	}
}
