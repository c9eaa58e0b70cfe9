package abac_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/civic-platform/security/abac"
)

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"ward = subject.ward",
		"department in subject.departments",
		"status in ('open', 'pending')",
		"status != 'closed'",
		"owner = subject.id and facility is null",
		"ward = 7 AND level != -3 and x IS NOT NULL",
		"ward == subject.ward",
		"name = 'O''Brien'",
		"note = '1''; DROP TABLE cases; --'",
		"city = 'Montréal'",
		"a in (" + strings.TrimSuffix(strings.Repeat("1,", 200), ",") + ")",
		"ward = 1; DROP TABLE cases",
		"ward = 1 -- x",
		"w\u0430rd = 1",
		"s = 'a\x00b'",
		"status = 'open",
		"ward = 9223372036854775808",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := abac.ParseRule(text)
		if err != nil {
			var pe *abac.ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(text) {
				t.Fatalf("ParseRule(%q): bad error %#v", text, err)
			}
			return
		}
		s := r.String()
		r2, err := abac.ParseRule(s)
		if err != nil {
			t.Fatalf("ParseRule(%q) ok, but its String %q does not parse: %v", text, s, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip of %q changed the rule: %q", text, r2.String())
		}
		if s2 := r2.String(); s2 != s {
			t.Fatalf("String not stable: %q then %q", s, s2)
		}
		// Binding and rendering a parsed rule never panics and never puts
		// a literal into the SQL text.
		subject := abac.Attributes{}
		cols := map[string]string{}
		for _, field := range r.Fields() {
			cols[field] = "col"
		}
		for _, name := range attrNames(s) {
			subject[name] = []any{"v"}
		}
		if c, ok := r.Bind(subject); ok {
			sql, _, err := abac.FromConj(c).SQL(abac.Postgres, cols)
			if err != nil {
				t.Fatalf("SQL of %q: %v", s, err)
			}
			if strings.ContainsAny(sql, "'\x00;") || strings.Contains(sql, "--") {
				t.Fatalf("SQL of %q holds literal text: %q", s, sql)
			}
		}
	})
}

// attrNames returns the names after "subject." in canonical rule text.
func attrNames(s string) []string {
	var out []string
	for {
		i := strings.Index(s, " subject.")
		if i < 0 {
			return out
		}
		s = s[i+len(" subject."):]
		end := strings.IndexAny(s, " ")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

// FuzzFilterSQLNeverSplices checks that the SQL text of a filter depends
// only on its structure and the allow-list: replacing every value by a
// fixed one leaves the text unchanged, and the values come back, in order,
// as arguments.
func FuzzFilterSQLNeverSplices(f *testing.F) {
	for _, h := range hostile {
		f.Add(h, "roads", int64(7), uint8(0))
	}
	f.Add("'", "--", int64(-1), uint8(3))
	f.Add("$1", "?", int64(0), uint8(255))
	f.Fuzz(func(t *testing.T, s1, s2 string, n int64, shape uint8) {
		build := func(a, b any, i any) abac.Filter {
			c1 := abac.Conj{
				{Field: "owner", Op: abac.OpEq, Values: []any{a}},
				{Field: "dept", Op: abac.OpIn, Values: []any{a, b}},
			}
			c2 := abac.Conj{
				{Field: "status", Op: abac.OpNe, Values: []any{b}},
				{Field: "ward", Op: abac.OpIn, Values: []any{i}},
			}
			c3 := abac.Conj{{Field: "facility", Op: abac.OpIsNull}}
			switch shape % 4 {
			case 0:
				return abac.FromConj(c1)
			case 1:
				return abac.FromConj(c1, c2)
			case 2:
				return abac.FromConj(c2, c3).And(abac.FromConj(c1))
			default:
				return abac.Or(abac.FromConj(c3), abac.FromConj(c2))
			}
		}
		cols := map[string]string{"owner": "owner_id", "dept": "department", "status": "status", "ward": "ward_id", "facility": "facility_id"}
		got := build(s1, s2, n)
		template := build("x", "y", int64(1))
		for _, d := range []abac.Dialect{abac.Postgres, abac.SQLite} {
			sql, args, err := got.SQL(d, cols)
			if err != nil {
				t.Fatal(err)
			}
			want, wantArgs, err := template.SQL(d, cols)
			if err != nil {
				t.Fatal(err)
			}
			if sql != want {
				t.Fatalf("%v: SQL text depends on values:\n%q\n%q", d, sql, want)
			}
			if len(args) != len(wantArgs) {
				t.Fatalf("%v: %d args, want %d", d, len(args), len(wantArgs))
			}
			for i, a := range args {
				var w any
				switch wantArgs[i] {
				case "x":
					w = s1
				case "y":
					w = s2
				default:
					w = n
				}
				if a != w {
					t.Fatalf("%v: arg %d = %#v, want %#v", d, i, a, w)
				}
			}
			for _, v := range []string{s1, s2} {
				if len(v) >= 3 && !strings.Contains(want, v) && strings.Contains(sql, v) {
					t.Fatalf("%v: value %q spliced into %q", d, v, sql)
				}
			}
		}
	})
}
