package abac_test

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/civic-platform/security/abac"
)

func TestNotIn(t *testing.T) {
	t.Parallel()
	c := abac.Cond{Field: "ward", Op: abac.OpNotIn, Values: []any{"7", "3"}}
	for _, tt := range []struct {
		rec  abac.Record
		want bool
	}{
		{abac.Map{"ward": "1"}, true},
		{abac.Map{"ward": ptr("1")}, true},
		{abac.Map{"ward": sql.NullString{String: "1", Valid: true}}, true},
		{abac.Map{"ward": "7"}, false},
		{abac.Map{"ward": "3"}, false},
		{abac.Map{"ward": nil}, false}, // NULL: false, as in SQL
		{abac.Map{}, false},
		{abac.Map{"ward": sql.NullString{}}, false},
		{abac.Map{"ward": int64(1)}, false}, // another type equals nothing
		{abac.Map{"ward": 1.5}, false},
	} {
		if got := c.Match(tt.rec); got != tt.want {
			t.Errorf("%v matches %v = %v, want %v", c, tt.rec, got, tt.want)
		}
	}
	sqlText, args, err := abac.FromConj(abac.Conj{c}).SQL(abac.Postgres, map[string]string{"ward": "w"})
	if err != nil || sqlText != "(w NOT IN ($1, $2))" || len(args) != 2 {
		t.Errorf("SQL = %q %v %v", sqlText, args, err)
	}
	if c.String() != "ward not in ('7', '3')" {
		t.Errorf("String = %q", c.String())
	}
	// "not in" with no values is malformed: it matches nothing and does not
	// render.
	empty := abac.Cond{Field: "ward", Op: abac.OpNotIn}
	if empty.Match(abac.Map{"ward": "1"}) {
		t.Error("empty not in matched")
	}
	if _, _, err := abac.FromConj(abac.Conj{empty}).SQL(abac.SQLite, map[string]string{"ward": "w"}); !errors.Is(err, abac.ErrInvalidFilter) {
		t.Errorf("empty not in: err %v", err)
	}
}

func TestSimplify(t *testing.T) {
	t.Parallel()
	eq := func(f string, v any) abac.Cond { return abac.Cond{Field: f, Op: abac.OpEq, Values: []any{v}} }
	ne := func(f string, v any) abac.Cond { return abac.Cond{Field: f, Op: abac.OpNe, Values: []any{v}} }
	in := func(f string, v ...any) abac.Cond { return abac.Cond{Field: f, Op: abac.OpIn, Values: v} }
	notIn := func(f string, v ...any) abac.Cond { return abac.Cond{Field: f, Op: abac.OpNotIn, Values: v} }
	null := func(f string) abac.Cond { return abac.Cond{Field: f, Op: abac.OpIsNull} }
	for _, tt := range []struct {
		in   abac.Filter
		want string
	}{
		{abac.All(), "all"},
		{abac.None(), "none"},
		{abac.FromConj(abac.Conj{in("w", "1", "7"), ne("w", "7")}), "w = '1'"},
		{abac.FromConj(abac.Conj{in("w", "1", "7"), notIn("w", "7", "1")}), "none"},
		{abac.FromConj(abac.Conj{eq("w", "1"), eq("w", "7")}), "none"},
		{abac.FromConj(abac.Conj{null("w"), ne("w", "7")}), "none"},
		{abac.FromConj(abac.Conj{null("w"), eq("w", "7")}), "none"},
		{abac.FromConj(abac.Conj{ne("w", "7"), notIn("w", "3", "7"), eq("d", "roads")}), "w not in ('7', '3') and d = 'roads'"},
		{abac.FromConj(abac.Conj{eq("w", "1")}, abac.Conj{in("w", "1")}), "w = '1'"},
		{abac.FromConj(abac.Conj{eq("w", "1"), eq("w", int64(1))}), "none"}, // a string never equals an integer
		{abac.FromConj(abac.Conj{{Field: "w", Op: abac.OpEq}, eq("w", "1")}), "w = and w = '1'"},
	} {
		if got := tt.in.Simplify().String(); got != tt.want {
			t.Errorf("Simplify(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	rec := abac.Map{"a": "x", "b": ptr("y"), "c": sql.NullString{String: "z", Valid: true}, "d": int64(7), "e": nil, "f": sql.NullString{}}
	for field, want := range map[string]string{"a": "x", "b": "y", "c": "z"} {
		if got, ok := abac.Text(rec, field); !ok || got != want {
			t.Errorf("Text(%s) = %q, %v", field, got, ok)
		}
	}
	for _, field := range []string{"d", "e", "f", "missing"} {
		if got, ok := abac.Text(rec, field); ok {
			t.Errorf("Text(%s) = %q, true; want false", field, got)
		}
	}
	if _, ok := abac.Text(nil, "a"); ok {
		t.Error("Text(nil) ok")
	}
}

// fuzzFilter builds a small filter from data: every byte pair picks a
// field, an operator and values from small pools, so that conditions on one
// field meet often.
func fuzzFilter(data []byte) abac.Filter {
	fields := []string{"a", "b"}
	vals := []any{"1", "2", "3", int64(1), int64(2)}
	var alts []abac.Conj
	var cur abac.Conj
	for i := 0; i+1 < len(data); i += 2 {
		op, arg := data[i], data[i+1]
		field := fields[int(op>>4)%len(fields)]
		pick := func(n int) []any {
			var out []any
			for j := range n {
				out = append(out, vals[(int(arg)+j*int(arg>>4+1))%len(vals)])
			}
			return out
		}
		var c abac.Cond
		switch op % 8 {
		case 0:
			c = abac.Cond{Field: field, Op: abac.OpEq, Values: pick(1)}
		case 1:
			c = abac.Cond{Field: field, Op: abac.OpNe, Values: pick(1)}
		case 2:
			c = abac.Cond{Field: field, Op: abac.OpIn, Values: pick(int(arg%4) + 1)}
		case 3:
			c = abac.Cond{Field: field, Op: abac.OpNotIn, Values: pick(int(arg%3) + 1)}
		case 4:
			c = abac.Cond{Field: field, Op: abac.OpIsNull}
		case 5:
			c = abac.Cond{Field: field, Op: abac.OpIsNotNull}
		case 6:
			alts = append(alts, cur)
			cur = nil
			continue
		case 7:
			c = abac.Cond{Field: field, Op: abac.Op(arg % 8), Values: pick(int(arg % 3))} // maybe malformed
		}
		cur = append(cur, c)
	}
	return abac.FromConj(append(alts, cur)...)
}

// FuzzSimplify checks that Simplify never changes which records a filter
// admits, in memory, over every record the value pools can form.
func FuzzSimplify(f *testing.F) {
	for _, s := range [][]byte{
		{0x02, 0x13, 0x01, 0x02},
		{0x04, 0x00, 0x01, 0x01},
		{0x03, 0x22, 0x00, 0x01, 0x06, 0x00, 0x12, 0x40},
		{0x05, 0x00, 0x03, 0x31, 0x02, 0x01},
		{0x07, 0x02, 0x00, 0x03},
	} {
		f.Add(s)
	}
	recVals := []any{nil, "1", "2", "3", "4", int64(1), int64(2), 1.5}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			return
		}
		flt := fuzzFilter(data)
		s := flt.Simplify()
		for _, a := range recVals {
			for _, b := range recVals {
				rec := abac.Map{"a": a, "b": b}
				if got, want := s.Match(rec), flt.Match(rec); got != want {
					t.Fatalf("record %v: Simplify gives %v, the filter %v\nfilter     %v\nsimplified %v", rec, got, want, flt, s)
				}
			}
		}
		if again := s.Simplify().String(); again != s.String() {
			t.Fatalf("Simplify not idempotent: %s then %s", s, again)
		}
	})
}
