package abac_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/civic-platform/security/abac"
)

func TestParseRuleGood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, want string
	}{
		{"attribute equality", "ward = subject.ward", "ward = subject.ward"},
		{"in attribute", "department in subject.departments", "department in subject.departments"},
		{"in list", "status in ('open', 'pending')", "status in ('open', 'pending')"},
		{"not equal string", "status != 'closed'", "status != 'closed'"},
		{"owner", "owner = subject.id", "owner = subject.id"},
		{"is null", "facility is null", "facility is null"},
		{"is not null", "facility is not null", "facility is not null"},
		{"integer", "ward = 7", "ward = 7"},
		{"negative integer", "level != -3", "level != -3"},
		{"int64 bounds", "a in (-9223372036854775808, 9223372036854775807)", "a in (-9223372036854775808, 9223372036854775807)"},
		{"double equals", "ward == subject.ward", "ward = subject.ward"},
		{"keywords in any case", "ward IN (1,2) AND facility IS NOT NULL And x Is Null", "ward in (1, 2) and facility is not null and x is null"},
		{"no spaces", "ward=7 and status!='x'", "ward = 7 and status != 'x'"},
		{"extra whitespace", " \t\nward   =\r\n subject.ward  ", "ward = subject.ward"},
		{"quote escape", "name = 'O''Brien'", "name = 'O''Brien'"},
		{"only quotes", "name = ''''''", "name = ''''''"},
		{"empty string", "name = ''", "name = ''"},
		{"sql inside string", "note = '1''; DROP TABLE cases; --'", "note = '1''; DROP TABLE cases; --'"},
		{"unicode inside string", "city = 'Montréal ｗ 東京'", "city = 'Montréal ｗ 東京'"},
		{"leading zeros", "ward = 007", "ward = 7"},
		{"underscore names", "_a_1 = subject._b_2", "_a_1 = subject._b_2"},
		{"keyword-like attribute", "x = subject.and", "x = subject.and"},
		{"keyword prefix field", "andy = 1 and island = 2 and nullable is null", "andy = 1 and island = 2 and nullable is null"},
		{"max name", "a" + strings.Repeat("b", abac.MaxNameLen-1) + " = 1", "a" + strings.Repeat("b", abac.MaxNameLen-1) + " = 1"},
		{"max conditions", strings.TrimSuffix(strings.Repeat("a = 1 and ", abac.MaxConditions), " and "), strings.TrimSuffix(strings.Repeat("a = 1 and ", abac.MaxConditions), " and ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := abac.ParseRule(tt.text)
			if err != nil {
				t.Fatalf("ParseRule(%q): %v", tt.text, err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			r2, err := abac.ParseRule(r.String())
			if err != nil {
				t.Fatalf("reparse %q: %v", r.String(), err)
			}
			if !reflect.DeepEqual(r, r2) {
				t.Errorf("round trip changed the rule: %q", r2.String())
			}
		})
	}
}

func TestParseRuleBad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		offset     int // -1: do not check
	}{
		{"empty", "", 0},
		{"only spaces", "   ", 3},
		{"oversized", "a = '" + strings.Repeat("x", abac.MaxRuleLen) + "'", abac.MaxRuleLen},
		{"too many conditions", strings.Repeat("a = 1 and ", abac.MaxConditions) + "a = 1", -1},
		{"name too long", strings.Repeat("a", abac.MaxNameLen+1) + " = 1", 0},
		{"list too long", "a in (" + strings.TrimSuffix(strings.Repeat("1, ", abac.MaxListLen+1), ", ") + ")", -1},
		{"missing operator", "ward subject.ward", 5},
		{"missing operand", "ward =", 6},
		{"dangling and", "ward = 1 and", 12},
		{"or", "ward = 1 or ward = 2", 9},
		{"semicolon", "ward = 1; DROP TABLE cases", 8},
		{"sql comment", "ward = 1 -- x", 9},
		{"comment as value", "ward = --1", 7},
		{"quote in field", "war'd = 1", 3},
		{"double quoted name", `"ward" = 1`, 0},
		{"dotted field", "case.ward = subject.ward", 4},
		{"star", "* = 1", 0},
		{"parenthesised", "(ward = 1)", 0},
		{"upper-case field", "Ward = 1", 0},
		{"upper-case attribute", "ward = subject.Ward", 15},
		{"digit field", "1ward = 1", 0},
		{"reserved field", "subject = 1", 0},
		{"reserved field null", "null is null", 0},
		{"unterminated string", "status = 'open", 9},
		{"unterminated list", "status in ('a', 'b'", 19},
		{"empty list", "status in ()", 11},
		{"trailing comma", "status in ('a',)", 15},
		{"mixed list", "status in ('a', 1)", 16},
		{"nul in name", "wa\x00rd = 1", 2},
		{"nul in string", "s = 'a\x00b'", 6},
		{"newline in string", "s = 'a\nb'", 6},
		{"bidi override in string", "s = 'a\u202eb'", 6},
		{"invalid utf8 in string", "s = 'a\xffb'", 6},
		{"invalid utf8 in name", "ward\xff = 1", 4},
		{"cyrillic a in field", "w\u0430rd = 1", 1},
		{"fullwidth equals", "ward \uff1d 1", 5},
		{"cyrillic subject", "ward = \u0455ubject.ward", 7},
		{"non-breaking space", "ward =\u00a01", 6},
		{"equals null", "ward = null", 7},
		{"field on right", "ward = other", 7},
		{"subject without dot", "ward = subject", 14},
		{"subject with space", "ward = subject .ward", 14},
		{"subject without name", "ward = subject.", 15},
		{"subject dot digit", "ward = subject.7", 15},
		{"integer overflow", "ward = 9223372036854775808", 7},
		{"integer then letters", "ward = 7a", 8},
		{"lone minus", "ward = -", 7},
		{"float", "ward = 7.5", 8},
		{"is without null", "ward is 1", 8},
		{"is not without null", "ward is not", 11},
		{"less than", "ward < 7", 5},
		{"in without list", "ward in 'a'", 8},
		{"backslash is not an escape", `s = 'a\'b'`, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := abac.ParseRule(tt.text)
			if err == nil {
				t.Fatalf("ParseRule(%q) = %q, want error", tt.text, r.String())
			}
			if !errors.Is(err, abac.ErrInvalidRule) {
				t.Errorf("error %v does not wrap ErrInvalidRule", err)
			}
			var pe *abac.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if tt.offset >= 0 && pe.Offset != tt.offset {
				t.Errorf("Offset = %d, want %d (%v)", pe.Offset, tt.offset, err)
			}
			if pe.Reason == "" || !strings.HasPrefix(err.Error(), "abac: ") {
				t.Errorf("unhelpful error %q", err)
			}
		})
	}
}

func mustParse(t testing.TB, text string) abac.Rule {
	t.Helper()
	r, err := abac.ParseRule(text)
	if err != nil {
		t.Fatalf("ParseRule(%q): %v", text, err)
	}
	return r
}

func TestRuleBind(t *testing.T) {
	t.Parallel()
	type myString string
	tests := []struct {
		name    string
		rule    string
		subject abac.Attributes
		want    string // Conj.String(); "" for no bind
	}{
		{"equality", "ward = subject.ward", abac.Attributes{"ward": {7}}, "ward = 7"},
		{"string attribute stays string", "ward = subject.ward", abac.Attributes{"ward": {"7"}}, "ward = '7'"},
		{"in attribute", "dept in subject.depts", abac.Attributes{"depts": {"roads", "parks"}}, "dept in ('roads', 'parks')"},
		{"in attribute single", "dept in subject.depts", abac.Attributes{"depts": {"roads"}}, "dept in ('roads')"},
		{"literals only", "status in ('open', 'pending') and ward = 7", nil, "status in ('open', 'pending') and ward = 7"},
		{"is null", "facility is null and owner = subject.id", abac.Attributes{"id": {"u1"}}, "facility is null and owner = 'u1'"},
		{"named string type", "owner = subject.id", abac.Attributes{"id": {myString("u1")}}, "owner = 'u1'"},
		{"small ints widen", "ward = subject.ward", abac.Attributes{"ward": {int8(3)}}, "ward = 3"},
		{"uint", "ward = subject.ward", abac.Attributes{"ward": {uint32(3)}}, "ward = 3"},
		{"hostile value", "owner = subject.id", abac.Attributes{"id": {"x' OR '1'='1"}}, "owner = 'x'' OR ''1''=''1'"},

		{"missing attribute", "ward = subject.ward", abac.Attributes{"dept": {"roads"}}, ""},
		{"nil subject", "ward = subject.ward", nil, ""},
		{"empty list for in", "dept in subject.depts", abac.Attributes{"depts": {}}, ""},
		{"nil list for in", "dept in subject.depts", abac.Attributes{"depts": nil}, ""},
		{"many values for =", "ward = subject.ward", abac.Attributes{"ward": {1, 2}}, ""},
		{"many values for !=", "ward != subject.ward", abac.Attributes{"ward": {1, 2}}, ""},
		{"float attribute", "ward = subject.ward", abac.Attributes{"ward": {7.0}}, ""},
		{"nil attribute value", "ward = subject.ward", abac.Attributes{"ward": {nil}}, ""},
		{"bool attribute", "ward in subject.ward", abac.Attributes{"ward": {"a", true}}, ""},
		{"huge uint", "ward = subject.ward", abac.Attributes{"ward": {uint64(1 << 63)}}, ""},
		{"second condition missing", "ward = subject.ward and dept = subject.dept", abac.Attributes{"ward": {1}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, tt.rule)
			c, ok := r.Bind(tt.subject)
			if tt.want == "" {
				if ok || c != nil {
					t.Fatalf("Bind = %q, %v; want no bind", c.String(), ok)
				}
				if f := abac.FilterFor(tt.subject, r); !f.MatchesNone() {
					t.Errorf("FilterFor = %v, want none", f)
				}
				return
			}
			if !ok {
				t.Fatalf("Bind did not bind, want %q", tt.want)
			}
			if got := c.String(); got != tt.want {
				t.Errorf("Bind = %q, want %q", got, tt.want)
			}
			for _, cond := range c {
				for _, v := range cond.Values {
					switch v.(type) {
					case string, int64:
					default:
						t.Errorf("value %#v of type %T, want string or int64", v, v)
					}
				}
			}
		})
	}
}

func TestZeroRuleBindsNothing(t *testing.T) {
	t.Parallel()
	var r abac.Rule
	if c, ok := r.Bind(abac.Attributes{"ward": {1}}); ok || c != nil {
		t.Errorf("zero Rule bound to %v", c)
	}
	if r.String() != "" {
		t.Errorf("zero Rule String = %q", r.String())
	}
}

func TestBindDoesNotAlias(t *testing.T) {
	t.Parallel()
	r := mustParse(t, "status in ('open', 'pending') and dept in subject.depts")
	subject := abac.Attributes{"depts": {"roads"}}
	c1, _ := r.Bind(subject)
	c1[0].Values[0] = "hacked"
	c1[1].Values[0] = "hacked"
	c2, _ := r.Bind(subject)
	if got, want := c2.String(), "status in ('open', 'pending') and dept in ('roads')"; got != want {
		t.Errorf("after modifying a bound Conj, Bind = %q, want %q", got, want)
	}
	if subject["depts"][0] != "roads" {
		t.Errorf("subject modified: %v", subject)
	}
}

func TestRuleFields(t *testing.T) {
	t.Parallel()
	r := mustParse(t, "ward = subject.ward and status != 'x' and ward is not null and owner is null")
	if got, want := r.Fields(), []string{"ward", "status", "owner"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
}
