package perm

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		wildcard bool
		want     Kind
	}{
		{"permits.application.approve", false, Exact},
		{"crm.citizen.sin.view", false, Exact},
		{"permits.*", true, Wildcard},
		{"permits.application.*", true, Wildcard},
		{"crm.citizen.sin.*", true, Wildcard},
		{"a_1.b_2.c_3", false, Exact},
		{"", false, 0},
		{"permits..approve", false, 0},
		{"Permits.application.approve", false, 0},
		{"permits.application.", false, 0},
		{".permits.application", false, 0},
		{"permits.application", false, 0},
		{"a.b.c.d.e", false, 0},
		{"permits.*", false, 0},
		{"*", true, 0},
		{"permits.*.approve", true, 0},
		{"a.b.c.d.*", true, 0},
		{"permits.app*", true, 0},
		{"permits.application.approve\x00", false, 0},
		{"permits.appl\u0456cation.approve", false, 0}, // Cyrillic і
		{"permits.application.approve,deny", false, 0},
		{"permits.application.approve\n", false, 0},
		{"permits. application.approve", false, 0},
		{strings.Repeat("a", 10<<10) + ".b.c", false, 0},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.wildcard)
		if tt.want == 0 {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Errorf("Parse(%s) = %+v, %v; want *Error", Quote(tt.in), got, err)
			}
			if err != nil && len(err.Error()) > 200 {
				t.Errorf("error message too long (%d bytes)", len(err.Error()))
			}
			continue
		}
		if err != nil || got.Kind != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want kind %v", tt.in, got, err, tt.want)
		}
	}
}

func TestWildcardPrefixes(t *testing.T) {
	t.Parallel()
	var got []string
	WildcardPrefixes("crm.citizen.sin.view", func(p string) bool { got = append(got, p); return true })
	want := []string{"crm.", "crm.citizen.", "crm.citizen.sin."}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"permits.application.approve", "permits.*", "crm.citizen.sin.view", "", "a..b", "a.b.c.*", "x.y.z\x00"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, wildcard bool) {
		p, err := Parse(s, wildcard)
		if err != nil {
			if p != (Parsed{}) {
				t.Fatalf("error with non-zero result")
			}
			return
		}
		if p.Kind == Wildcard && (!wildcard || !strings.HasSuffix(s, ".*")) {
			t.Fatalf("bad wildcard accepted: %q", s)
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '*') {
				t.Fatalf("accepted %q with rune %q", s, r)
			}
		}
	})
}
