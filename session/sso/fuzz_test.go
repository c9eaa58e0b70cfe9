package sso_test

import (
	"strings"
	"testing"

	"github.com/civic-platform/security/session/sso"
)

// FuzzNormalizeEmail: an accepted email is lower-case printable ASCII
// with one @, no display name or comment, and normalising it again
// changes nothing; so two accepted spellings that differ are different
// accounts, never look-alikes of one.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"Sam.Girard@Lakeview.ca", "sаm@lakeview.ca", "a@b", "x <a@b.c>", "a(b)@c.d", "a@b@c", "\"a b\"@c.d", "a@b.c\u200b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := sso.NormalizeEmail(in)
		if err != nil {
			return
		}
		if e != strings.ToLower(e) || strings.Count(e, "@") != 1 || strings.ContainsAny(e, " <>()\"\\,;:") {
			t.Fatalf("NormalizeEmail(%q) = %q", in, e)
		}
		for i := 0; i < len(e); i++ {
			if e[i] <= ' ' || e[i] > '~' {
				t.Fatalf("NormalizeEmail(%q) = %q: not printable ASCII", in, e)
			}
		}
		if again, err := sso.NormalizeEmail(e); err != nil || again != e {
			t.Fatalf("not idempotent: %q -> %q, %v", e, again, err)
		}
	})
}
