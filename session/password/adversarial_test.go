package password_test

import (
	"context"

	"errors"
	"golang.org/x/text/unicode/norm"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/civic-platform/security/session/password"
)

// Passwords that are strong only by counting characters nobody sees or
// that carry no variety are refused, whatever spelling they come in.
func TestPolicyLooksThroughInvisibleAndRepeated(t *testing.T) {
	var p password.Policy
	for name, pw := range map[string]string{
		"spaces":               strings.Repeat(" ", 20),
		"ideographic spaces":   strings.Repeat("\u3000", 20),
		"no-break spaces":      strings.Repeat("\u00a0", 20),
		"tabs":                 strings.Repeat("\t", 20),
		"zero-width only":      strings.Repeat("\u200b", 20),
		"one letter":           strings.Repeat("a", 20),
		"one letter any case":  strings.Repeat("aA", 10),
		"two letters":          strings.Repeat("ab", 10),
		"three with spaces":    strings.Repeat("ab c ", 5),
		"common, zero-width":   "pass\u200bword1234",
		"common, soft hyphen":  "pass\u00adword1234",
		"common, spaced":       "p a s s w o r d 1 2 3 4",
		"common, BOM":          "\ufeffpassword1234",
		"short plus invisible": "Tr0ub4d\u200b\u200b\u200b\u200b\u200b",
		"control char":         "correct horse\x1bbattery",
		"newline":              "correct horse\nbattery",
		"account, zero-width":  "my cl\u200berk is 2026 ok",
	} {
		err := p.Check(pw, "clerk")
		if !errors.Is(err, password.ErrWeak) {
			t.Errorf("%s: Check = %v, want ErrWeak", name, err)
		}
	}
	for _, pw := range []string{"correct horse battery staple", "kq8#Vz!m2Lp0", strings.Repeat("éßøñ", 32)} {
		if err := p.Check(pw); err != nil {
			t.Errorf("%q: %v", pw, err)
		}
	}
}

// Property: whatever Check accepts has at least four distinct visible
// characters, no control character, at least MinLength visible ones, and
// is not common once whitespace and invisible characters are removed.
func FuzzPolicyAccepts(f *testing.F) {
	for _, s := range []string{"correct horse battery staple", "pass\u200bword1234", "            ", "aaaaaaaaaaaa", "p a s s w o r d 1", "abcabcabcabc1", "abcdefghijklm", "1qaz2wsx3edc4rfv", "mnbvcxzlkjhg"} {
		f.Add(s)
	}
	var p password.Policy
	f.Fuzz(func(t *testing.T, pw string) {
		if p.Check(pw) != nil {
			return
		}
		n, _ := password.Normalize(pw)
		seen := map[rune]bool{}
		visible := 0
		var core strings.Builder
		for _, r := range strings.ToLower(n) {
			if unicode.IsControl(r) {
				t.Fatalf("accepted a control character: %q", pw)
			}
			if unicode.Is(unicode.Cf, r) {
				continue
			}
			visible++
			if !unicode.IsSpace(r) {
				seen[r] = true
				core.WriteRune(r)
			}
		}
		if len(seen) < 4 || visible < 12 || visible > 128 {
			t.Fatalf("accepted %q: %d distinct, %d visible", pw, len(seen), visible)
		}
		if utf8.ValidString(core.String()) && password.IsCommon(core.String()) {
			t.Fatalf("accepted %q, common once stripped", pw)
		}
		// Not one run of consecutive letters or digits, up or down.
		rs := []rune(core.String())
		run := true
		for i := 2; i < len(rs) && run; i++ {
			run = rs[i]-rs[i-1] == rs[1]-rs[0] && (rs[1]-rs[0] == 1 || rs[1]-rs[0] == -1)
		}
		if run {
			t.Fatalf("accepted a run: %q", pw)
		}
	})
}

// Property: a password the policy accepts can be typed in any Unicode
// normalisation form (NFC, NFD, NFKC, NFKD) and normalises to one string,
// so every spelling verifies against the stored hash.
func FuzzSpellingsNormaliseAlike(f *testing.F) {
	for _, s := range []string{
		"mot de passe déjà vu 2026",
		strings.Repeat("한국밀갈", 32), // 128 Hangul syllables
		"Ｐａｓｓ ｗｏｒｄ ｆｉｎｅ ９",
		"ﬁnal ﬂow ǆungla Ω",
		strings.Repeat("ệ", 128),
	} {
		f.Add(s)
	}
	var p password.Policy
	f.Fuzz(func(t *testing.T, pw string) {
		if p.Check(pw) != nil {
			return
		}
		want, err := password.Normalize(pw)
		if err != nil {
			t.Fatal(err)
		}
		for name, form := range map[string]norm.Form{"NFC": norm.NFC, "NFD": norm.NFD, "NFKC": norm.NFKC, "NFKD": norm.NFKD} {
			got, err := password.Normalize(form.String(pw))
			if err != nil || got != want {
				t.Fatalf("%s spelling of %q: %q, %v; want %q", name, pw, got, err, want)
			}
		}
	})
}

// End to end: the Hangul password at the policy's maximum length, set
// in NFC, verifies when typed in NFD (which takes 9 bytes a syllable).
func TestLongestPasswordVerifiesInEverySpelling(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t)
	pw := strings.Repeat("한국밀갈", 32)
	if err := (password.Policy{}).Check(pw); err != nil {
		t.Fatal(err)
	}
	enc, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []norm.Form{norm.NFD, norm.NFKD} {
		if _, err := h.Verify(ctx, form.String(pw), enc); err != nil {
			t.Fatalf("decomposed spelling (%d bytes): %v", len(form.String(pw)), err)
		}
	}
}

// Common passwords in other cases, and passwords made of runs of
// consecutive characters and keyboard walks (QWERTY and AZERTY, with
// digits and their shifted symbols), are refused.
func TestPolicyRefusesCommonCasesRunsAndWalks(t *testing.T) {
	for _, pw := range []string{
		"password1234", "Password123!", "PASSWORD1234", "PaSsWoRd1234", "qwerty123456", "QWERTY123456",
		"123456789012", "iloveyou1234", "welcome12345", "Welcome2024!", "Changeme123!", "Admin@123456",
		"abc123456789", "1q2w3e4r5t6y", "zaq12wsxcde3", "1234567890qwerty", "abcdefghijkl", "abcdefghijklmnop",
		"0123456789ab", "1qaz2wsx3edc", "qazwsxedcrfv", "asdfghjkl123", "zyxwvutsrqpo", "!@#$%^&*()qw",
		"azertyuiop12", "AZERTYqsdfgh", "9876543210zz", "aabbccddeeff", "Qwerty Qwerty",
	} {
		if err := (password.Policy{}).Check(pw); !errors.Is(err, password.ErrWeak) {
			t.Errorf("%q: %v, want ErrWeak", pw, err)
		}
	}
}
