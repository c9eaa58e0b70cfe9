package onboard_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/civic-platform/security/session/onboard"
)

// FuzzRecordNormalize holds Normalize to its promises on any record: it
// never panics, every error is ErrInvalidInput, and an accepted record is
// a fixed point whose text holds no control or invisible character (so no
// name can split a mail header) and whose email is one plain address.
func FuzzRecordNormalize(f *testing.F) {
	f.Add("E1042", "Julie", "Tremblay", "julie@lakeview.ca", "Bylaw Officer", "bylaw", "E7", "fr")
	f.Add("E1", "Lee\r\nBcc: x@y.z", "Roy", "a@b.ca", "Clerk", "parks", "", "")
	f.Add("e-1", "Zoë", "O'Brien-Lévesque", "Z@B.CA", "Trésorière", "finance", "", "EN")
	f.Add("1' OR 1=1", "A\u202e", "B\u2028", "a@b.ca,c@d.ca", "P\x00", "x:y", "E1", "de")
	f.Fuzz(func(t *testing.T, id, given, family, email, position, dept, manager, lang string) {
		r := onboard.Record{EmployeeID: id, GivenName: given, FamilyName: family, Email: email, Position: position,
			Department: dept, Manager: manager, Language: lang}
		n, err := r.Normalize()
		if err != nil {
			if !errors.Is(err, onboard.ErrInvalidInput) {
				t.Fatalf("error not ErrInvalidInput: %v", err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error repeats a line break: %q", err)
			}
			return
		}
		again, err := n.Normalize()
		if err != nil || again != n {
			t.Fatalf("not a fixed point: %+v -> %+v (%v)", n, again, err)
		}
		for _, s := range []string{n.EmployeeID, n.GivenName, n.FamilyName, n.Email, n.Position, n.Department, n.Manager} {
			for _, c := range s {
				if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) || c == '\u2028' || c == '\u2029' {
					t.Fatalf("accepted %U in %+v", c, n)
				}
			}
		}
		if strings.ContainsAny(n.Email, " ,<>\"") || strings.Count(n.Email, "@") != 1 {
			t.Fatalf("accepted email %q", n.Email)
		}
	})
}
