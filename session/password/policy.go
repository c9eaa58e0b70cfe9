package password

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

//go:generate go run gen_common.go

//go:embed common.txt
var commonText string

var (
	// ErrInvalid is wrapped by errors for input that is not a password at
	// all: empty, not UTF-8, holding NUL, or longer than [MaxBytes].
	ErrInvalid = errors.New("password: invalid")
	// ErrWeak is wrapped by errors for a password the [Policy] refuses:
	// too short, too long, or on the list of common passwords.
	ErrWeak = errors.New("password: too weak")
)

// MaxBytes is the longest input any function here accepts, before
// normalisation. Longer input is refused at once, without hashing. It is
// 4 KiB so that every spelling of a password of the default maximum
// length (128 characters) fits: in NFD a character can take up to four
// code points, a Hangul syllable nine bytes.
const MaxBytes = 4096

// Normalize returns pw in Unicode normalisation form NFKC, as NIST SP
// 800-63B asks, so that the same password typed on two keyboards — é as
// one code point (NFC) or as e plus a combining accent (NFD), a
// full-width digit — hashes alike. It refuses, with an error wrapping
// ErrInvalid, an empty password, invalid UTF-8, NUL, and input longer than
// MaxBytes (checked before normalising, so a 1 MB input costs nothing).
func Normalize(pw string) (string, error) {
	switch {
	case pw == "":
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	case len(pw) > MaxBytes:
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxBytes)
	case !utf8.ValidString(pw):
		return "", fmt.Errorf("%w: not UTF-8", ErrInvalid)
	case strings.IndexByte(pw, 0) >= 0:
		return "", fmt.Errorf("%w: contains NUL", ErrInvalid)
	}
	n := norm.NFKC.String(pw)
	if len(n) > 4*MaxBytes { // NFKC can expand; bound it
		return "", fmt.Errorf("%w: too long once normalised", ErrInvalid)
	}
	return n, nil
}

// Policy is what a new password must satisfy. The zero Policy uses the
// defaults given on each field.
type Policy struct {
	// MinLength in characters (code points after normalisation, not
	// counting invisible format characters such as U+200B); 0 means
	// 12. NIST SP 800-63B asks for at least 8 with a second factor and 15
	// without; 12 is our middle ground for staff who must enrol MFA.
	MinLength int
	// MaxLength in characters; 0 means 128.
	MaxLength int
	// AllowCommon turns off the check against the shipped list of common
	// and leaked passwords. Leave it false.
	AllowCommon bool
}

// PolicyError says why a password was refused. errors.Is(err, ErrWeak)
// reports true for it. It never holds the password.
type PolicyError struct {
	Reason string // too short, too long, too few distinct characters, a keyboard pattern or run, a control character, common, contains account name
}

func (e *PolicyError) Error() string { return "password: too weak: " + e.Reason }

// Is reports whether target is ErrWeak.
func (e *PolicyError) Is(target error) bool { return target == ErrWeak }

// Check normalises pw and applies the policy. context holds words the
// password must not contain, such as the account's email local part and
// employee id (compared case-insensitively, ignoring entries shorter than
// four characters). It returns an error wrapping ErrInvalid or ErrWeak.
func (p Policy) Check(pw string, context ...string) error {
	n, err := Normalize(pw)
	if err != nil {
		return err
	}
	minLen, maxLen := p.MinLength, p.MaxLength
	if minLen <= 0 {
		minLen = 12
	}
	if maxLen <= 0 {
		maxLen = 128
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return &PolicyError{Reason: "contains a control character"}
		}
	}
	// Invisible characters (zero-width spaces and joiners, soft hyphens,
	// direction marks) add no strength: they count toward no length, and
	// the rest of the checks look through them and through whitespace.
	shown := strip(n, isInvisible)
	core := strings.ToLower(strip(shown, unicode.IsSpace))
	if distinct(core) < minDistinct {
		return &PolicyError{Reason: fmt.Sprintf("too few distinct characters (minimum %d, not counting spaces)", minDistinct)}
	}
	if surprise(core) < minSurprise {
		return &PolicyError{Reason: "a keyboard pattern or a run of consecutive characters"}
	}
	switch l := utf8.RuneCountInString(shown); {
	case l < minLen:
		return &PolicyError{Reason: fmt.Sprintf("too short (minimum %d characters)", minLen)}
	case l > maxLen:
		return &PolicyError{Reason: fmt.Sprintf("too long (maximum %d characters)", maxLen)}
	}
	lower := strings.ToLower(n)
	if !p.AllowCommon && IsCommon(lower) {
		return &PolicyError{Reason: "common or leaked password"}
	}
	for _, c := range context {
		c = strings.ToLower(norm.NFKC.String(c))
		if utf8.RuneCountInString(c) >= 4 && (strings.Contains(lower, c) || strings.Contains(core, strip(c, unicode.IsSpace))) {
			return &PolicyError{Reason: "contains account name"}
		}
	}
	return nil
}

// minDistinct is the fewest different characters, whitespace and
// invisible characters aside and case ignored, that a password must hold:
// "aaaaaaaaaaaa", "abababababab" and a run of spaces are refused.
const minDistinct = 4

// minSurprise is the fewest characters, case, whitespace and invisible
// characters aside, that must not merely continue a pattern from the
// character before them (see surprise): "abcdefghijkl",
// "1234567890qwerty", "1qaz2wsx3edc" and "zaq12wsxcde3" are refused.
const minSurprise = 6

// keyboards are the rows of the QWERTY and AZERTY layouts, shifted
// symbols folded onto their digits (see unshift).
var keyboards = [...][4]string{
	{"1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./"},
	{"1234567890", "azertyuiop", "qsdfghjklm", "wxcvbn,;:!"},
}

var unshift = strings.NewReplacer("!", "1", "@", "2", "#", "3", "$", "4", "%", "5", "^", "6", "&", "7", "*", "8", "(", "9", ")", "0")

type keyPos struct{ row, col int }

// keyPositions maps each key to its positions, one per layout.
var keyPositions = sync.OnceValue(func() [len(keyboards)]map[rune]keyPos {
	var out [len(keyboards)]map[rune]keyPos
	for i, kb := range keyboards {
		out[i] = map[rune]keyPos{}
		for r, row := range kb {
			for c, k := range []rune(row) {
				out[i][k] = keyPos{r, c}
			}
		}
	}
	return out
})

// adjacentKeys reports whether a and b neighbour each other on one of the
// layouts: beside each other in a row, or touching across rows (each row
// sits half a key to the right of the one above).
func adjacentKeys(a, b rune) bool {
	for _, pos := range keyPositions() {
		p, ok1 := pos[a]
		q, ok2 := pos[b]
		if !ok1 || !ok2 {
			continue
		}
		dr, dc := q.row-p.row, q.col-p.col
		switch {
		case dr == 0 && (dc == 1 || dc == -1),
			dr == -1 && (dc == 0 || dc == 1),
			dr == 1 && (dc == 0 || dc == -1):
			return true
		}
	}
	return false
}

// surprise counts the characters of s (lower-cased) that do not continue
// a pattern from the one before: a repeat, the next or previous letter or
// digit, or a neighbouring key. The first character always counts.
func surprise(s string) int {
	n := 0
	var prev rune = -1
	for _, r := range unshift.Replace(s) {
		d := r - prev
		switch {
		case prev >= 0 && (d >= -1 && d <= 1) && (isASCIIAlnum(r) && isASCIIAlnum(prev) || r == prev):
		case prev >= 0 && adjacentKeys(prev, r):
		default:
			n++
		}
		prev = r
	}
	return n
}

func isASCIIAlnum(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' }

// isInvisible reports whether r is a format character (Unicode category
// Cf: zero-width space and joiners, soft hyphen, direction marks, BOM),
// which NFKC keeps but nobody sees.
func isInvisible(r rune) bool { return unicode.Is(unicode.Cf, r) }

// strip returns s without the runes for which drop is true.
func strip(s string, drop func(rune) bool) string {
	return strings.Map(func(r rune) rune {
		if drop(r) {
			return -1
		}
		return r
	}, s)
}

func distinct(s string) int {
	seen := make(map[rune]struct{}, minDistinct)
	for _, r := range s {
		seen[r] = struct{}{}
	}
	return len(seen)
}

var common = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 8192)
	sc := bufio.NewScanner(strings.NewReader(commonText))
	for sc.Scan() {
		if l := sc.Text(); l != "" && l[0] != '#' {
			m[l] = struct{}{}
		}
	}
	return m
})

// IsCommon reports whether pw, normalised and lower-cased, is on the
// shipped list of common and leaked passwords (about 7,500 entries: the
// passwords at the top of public leak lists, the words they are made of,
// and their usual variations with digits, years, symbols and leetspeak),
// or becomes an entry once its trailing digits and symbols are removed and
// its leetspeak undone ("P@ssw0rd1234!" is "password"), also after
// removing whitespace and invisible characters ("Pass Word 1").
func IsCommon(pw string) bool {
	n, err := Normalize(pw)
	if err != nil {
		return false
	}
	l := strings.ToLower(n)
	// The password as typed, and with whitespace and invisible characters
	// removed ("pass word", "pass\u200bword" are "password").
	return isCommon(l) || isCommon(strip(l, func(r rune) bool { return unicode.IsSpace(r) || isInvisible(r) }))
}

func isCommon(l string) bool {
	set := common()
	if _, ok := set[l]; ok {
		return true
	}
	base := unleet.Replace(strings.TrimRightFunc(l, func(r rune) bool {
		return !unicode.IsLetter(r)
	}))
	if utf8.RuneCountInString(base) < 4 {
		return false
	}
	_, ok := set[base]
	return ok
}

var unleet = strings.NewReplacer("@", "a", "4", "a", "0", "o", "3", "e", "1", "i", "!", "i", "$", "s", "5", "s", "7", "t")
