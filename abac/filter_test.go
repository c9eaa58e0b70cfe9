package abac_test

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
	"testing"

	"github.com/civic-platform/security/abac"
)

func ptr[T any](v T) *T { return &v }

func TestFilterStates(t *testing.T) {
	t.Parallel()
	cond := abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{7}}}
	rec := abac.Map{"ward": 7}
	tests := []struct {
		name          string
		f             abac.Filter
		all, none     bool
		match, String string
	}{
		{name: "zero value", f: abac.Filter{}, none: true, String: "none"},
		{name: "None", f: abac.None(), none: true, String: "none"},
		{name: "All", f: abac.All(), all: true, match: "yes", String: "all"},
		{name: "conditions", f: abac.FromConj(cond), match: "yes", String: "ward = 7"},
		{name: "FromConj of nothing", f: abac.FromConj(), none: true, String: "none"},
		{name: "FromConj of empty Conj", f: abac.FromConj(nil, abac.Conj{}), none: true, String: "none"},
		{name: "hand-built empty Conj", f: abac.Filter{Any: []abac.Conj{{}}}, none: true, String: "none"},
		{name: "Or of nothing", f: abac.Or(), none: true, String: "none"},
		{name: "Or of None", f: abac.Or(abac.None(), abac.Filter{}), none: true, String: "none"},
		{name: "Or with All", f: abac.Or(abac.FromConj(cond), abac.All()), all: true, match: "yes", String: "all"},
		{name: "Or of conditions", f: abac.Or(abac.None(), abac.FromConj(cond)), match: "yes", String: "ward = 7"},
		{name: "And with None", f: abac.FromConj(cond).And(abac.None()), none: true, String: "none"},
		{name: "None And All", f: abac.None().And(abac.All()), none: true, String: "none"},
		{name: "And with All", f: abac.All().And(abac.FromConj(cond)), match: "yes", String: "ward = 7"},
		{name: "All And All", f: abac.All().And(abac.All()), all: true, match: "yes", String: "all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.f.MatchesAll(); got != tt.all {
				t.Errorf("MatchesAll = %v, want %v", got, tt.all)
			}
			if got := tt.f.MatchesNone(); got != tt.none {
				t.Errorf("MatchesNone = %v, want %v", got, tt.none)
			}
			if got, want := tt.f.Match(rec), tt.match == "yes"; got != want {
				t.Errorf("Match(%v) = %v, want %v", rec, got, want)
			}
			if got := tt.f.String(); got != tt.String {
				t.Errorf("String = %q, want %q", got, tt.String)
			}
		})
	}
}

func TestFilterForForgottenBoolFailsClosed(t *testing.T) {
	t.Parallel()
	r := mustParse(t, "ward = subject.ward")
	c, _ := r.Bind(abac.Attributes{}) // caller ignores ok
	f := abac.FromConj(c)
	if !f.MatchesNone() || f.Match(abac.Map{"ward": 7}) || f.Match(nil) {
		t.Errorf("FromConj of an unbound rule = %v, want none", f)
	}
	if got := abac.FilterFor(abac.Attributes{"ward": {7}}); !got.MatchesNone() {
		t.Errorf("FilterFor with no rules = %v, want none", got)
	}
}

func TestFilterAndOr(t *testing.T) {
	t.Parallel()
	a := abac.FromConj(
		abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{1}}},
		abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{2}}},
	)
	b := abac.FromConj(
		abac.Conj{{Field: "dept", Op: abac.OpIn, Values: []any{"roads"}}},
		abac.Conj{{Field: "owner", Op: abac.OpEq, Values: []any{"u1"}}},
	)
	and := a.And(b)
	want := "(ward = 1 and dept in ('roads')) or (ward = 1 and owner = 'u1') or (ward = 2 and dept in ('roads')) or (ward = 2 and owner = 'u1')"
	if got := and.String(); got != want {
		t.Errorf("And = %q\nwant %q", got, want)
	}
	if got, want := abac.Or(a, b).String(), "(ward = 1) or (ward = 2) or (dept in ('roads')) or (owner = 'u1')"; got != want {
		t.Errorf("Or = %q, want %q", got, want)
	}
	// And never modifies its operands.
	if got := a.String(); got != "(ward = 1) or (ward = 2)" {
		t.Errorf("a modified: %q", got)
	}
	for _, tt := range []struct {
		rec  abac.Map
		want bool
	}{
		{abac.Map{"ward": 1, "dept": "roads"}, true},
		{abac.Map{"ward": 2, "owner": "u1"}, true},
		{abac.Map{"ward": 3, "dept": "roads"}, false},
		{abac.Map{"ward": 1, "dept": "parks"}, false},
		{abac.Map{"ward": 1}, false},
	} {
		if got := and.Match(tt.rec); got != tt.want {
			t.Errorf("And.Match(%v) = %v, want %v", tt.rec, got, tt.want)
		}
		if got := a.Match(tt.rec) && b.Match(tt.rec); got != tt.want {
			t.Errorf("a.Match && b.Match (%v) = %v, want %v", tt.rec, got, tt.want)
		}
	}
}

func TestMatchNullSemantics(t *testing.T) {
	t.Parallel()
	type Ward int
	var nilInt *int64
	nulls := []struct {
		name string
		rec  abac.Record
	}{
		{"missing key", abac.Map{}},
		{"nil value", abac.Map{"f": nil}},
		{"nil pointer", abac.Map{"f": nilInt}},
		{"nil *string", abac.Map{"f": (*string)(nil)}},
		{"invalid NullString", abac.Map{"f": sql.NullString{}}},
		{"invalid NullInt64", abac.Map{"f": sql.NullInt64{}}},
		{"nil *NullString", abac.Map{"f": (*sql.NullString)(nil)}},
		{"nil record", nil},
		{"nil Map", abac.Map(nil)},
	}
	conds := []struct {
		name string
		cond abac.Cond
	}{
		{"= string", abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{"x"}}},
		{"= empty string", abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{""}}},
		{"= int", abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{0}}},
		{"!= string", abac.Cond{Field: "f", Op: abac.OpNe, Values: []any{"x"}}},
		{"!= int", abac.Cond{Field: "f", Op: abac.OpNe, Values: []any{0}}},
		{"in", abac.Cond{Field: "f", Op: abac.OpIn, Values: []any{"", "x"}}},
		{"is not null", abac.Cond{Field: "f", Op: abac.OpIsNotNull}},
	}
	for _, n := range nulls {
		for _, c := range conds {
			if abac.FromConj(abac.Conj{c.cond}).Match(n.rec) {
				t.Errorf("%s: %s matched NULL", n.name, c.name)
			}
		}
		if !abac.FromConj(abac.Conj{{Field: "f", Op: abac.OpIsNull}}).Match(n.rec) {
			t.Errorf("%s: is null did not match NULL", n.name)
		}
	}

	// Present values.
	tests := []struct {
		name string
		val  any
		cond abac.Cond
		want bool
	}{
		{"int = int", 7, abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{int64(7)}}, true},
		{"int8 = int", int8(7), abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{7}}, true},
		{"named int = int", Ward(7), abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{7}}, true},
		{"*int64 = int", ptr(int64(7)), abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{7}}, true},
		{"NullInt64 = int", sql.NullInt64{Int64: 7, Valid: true}, abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{7}}, true},
		{"NullString = string", sql.NullString{String: "a", Valid: true}, abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{"a"}}, true},
		{"int != other int", 7, abac.Cond{Field: "f", Op: abac.OpNe, Values: []any{8}}, true},
		{"int != same int", 7, abac.Cond{Field: "f", Op: abac.OpNe, Values: []any{7}}, false},
		{"string != other", "a", abac.Cond{Field: "f", Op: abac.OpNe, Values: []any{"b"}}, true},
		{"string in", "b", abac.Cond{Field: "f", Op: abac.OpIn, Values: []any{"a", "b"}}, true},
		{"string not in", "c", abac.Cond{Field: "f", Op: abac.OpIn, Values: []any{"a", "b"}}, false},
		{"in no values", "a", abac.Cond{Field: "f", Op: abac.OpIn}, false},
		{"is not null", "", abac.Cond{Field: "f", Op: abac.OpIsNotNull}, true},
		{"empty string is not null", "", abac.Cond{Field: "f", Op: abac.OpIsNull}, false},
		{"zero int is not null", 0, abac.Cond{Field: "f", Op: abac.OpIsNull}, false},
		{"float is not null", 1.5, abac.Cond{Field: "f", Op: abac.OpIsNotNull}, true},
		{"case sensitive", "Roads", abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{"roads"}}, false},

		// A string never equals an integer, and != between them is false too.
		{"int = string", 7, abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{"7"}}, false},
		{"string = int", "7", abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{7}}, false},
		{"int != string", 7, abac.Cond{Field: "f", Op: abac.OpNe, Values: []any{"8"}}, false},
		{"string in ints", "7", abac.Cond{Field: "f", Op: abac.OpIn, Values: []any{7}}, false},
		{"float = int", 7.0, abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{7}}, false},
		{"float != int", 7.5, abac.Cond{Field: "f", Op: abac.OpNe, Values: []any{7}}, false},

		// Malformed conditions match nothing.
		{"zero op", 7, abac.Cond{Field: "f", Values: []any{7}}, false},
		{"= two values", 7, abac.Cond{Field: "f", Op: abac.OpEq, Values: []any{7, 7}}, false},
		{"= no values", 7, abac.Cond{Field: "f", Op: abac.OpEq}, false},
		{"!= no values", 7, abac.Cond{Field: "f", Op: abac.OpNe}, false},
		{"!= float value", 7, abac.Cond{Field: "f", Op: abac.OpNe, Values: []any{1.5}}, false},
		{"in with a nil value", 7, abac.Cond{Field: "f", Op: abac.OpIn, Values: []any{7, nil}}, false},
		{"is null with values", 7, abac.Cond{Field: "f", Op: abac.OpIsNotNull, Values: []any{7}}, false},
		{"valuer error", failingValuer{}, abac.Cond{Field: "f", Op: abac.OpIsNotNull}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := abac.FromConj(abac.Conj{tt.cond}).Match(abac.Map{"f": tt.val}); got != tt.want {
				t.Errorf("%v matching %#v = %v, want %v", tt.cond, tt.val, got, tt.want)
			}
		})
	}
}

type failingValuer struct{}

func (failingValuer) Value() (driver.Value, error) { return nil, errors.New("boom") }

type Base struct {
	Dept string `abac:"dept"`
}

type Case struct {
	*Base
	ID       int64          `abac:"id"`
	Ward     int            `abac:"ward"`
	Status   string         `abac:"status"`
	Owner    *string        `abac:"owner"`
	Facility sql.NullString `abac:"facility"`
	Secret   string
	Skipped  string `abac:"-"`
}

func TestTagged(t *testing.T) {
	t.Parallel()
	var tg abac.Tagged
	f := abac.FromConj(abac.Conj{
		{Field: "ward", Op: abac.OpEq, Values: []any{7}},
		{Field: "status", Op: abac.OpIn, Values: []any{"open"}},
		{Field: "owner", Op: abac.OpEq, Values: []any{"u1"}},
		{Field: "facility", Op: abac.OpIsNull},
		{Field: "dept", Op: abac.OpEq, Values: []any{"roads"}},
	})
	tests := []struct {
		name string
		rec  any
		want bool
	}{
		{"matching pointer", &Case{Base: &Base{Dept: "roads"}, Ward: 7, Status: "open", Owner: ptr("u1")}, true},
		{"matching value", Case{Base: &Base{Dept: "roads"}, Ward: 7, Status: "open", Owner: ptr("u1")}, true},
		{"other ward", &Case{Base: &Base{Dept: "roads"}, Ward: 8, Status: "open", Owner: ptr("u1")}, false},
		{"nil owner", &Case{Base: &Base{Dept: "roads"}, Ward: 7, Status: "open"}, false},
		{"facility set", &Case{Base: &Base{Dept: "roads"}, Ward: 7, Status: "open", Owner: ptr("u1"), Facility: sql.NullString{String: "f", Valid: true}}, false},
		{"nil embedded struct", &Case{Ward: 7, Status: "open", Owner: ptr("u1")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, err := tg.Record(tt.rec)
			if err != nil {
				t.Fatalf("Record: %v", err)
			}
			if got := f.Match(rec); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}

	rec, err := tg.Record(&Case{Secret: "s", Skipped: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Secret", "secret", "Skipped", "-", ""} {
		if v, ok := rec.Field(name); ok {
			t.Errorf("Field(%q) = %v, want not visible", name, v)
		}
	}
	if _, ok := rec.Field("dept"); !ok {
		t.Errorf("Field(dept) through nil embedded pointer: not found, want NULL")
	}

	type dup struct {
		A string `abac:"a"`
		B string `abac:"a"`
	}
	type unexported struct {
		a string `abac:"a"`
	}
	for _, bad := range []any{nil, 7, "s", (*Case)(nil), dup{}, unexported{a: ""}, map[string]any{}} {
		if _, err := tg.Record(bad); err == nil {
			t.Errorf("Record(%#v) succeeded, want error", bad)
		}
	}
}

func TestTaggedConcurrent(t *testing.T) {
	t.Parallel()
	var tg abac.Tagged
	f := abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{7}}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				rec, err := tg.Record(&Case{Ward: (i + j) % 8})
				if err != nil {
					t.Error(err)
					return
				}
				if got, want := f.Match(rec), (i+j)%8 == 7; got != want {
					t.Errorf("Match = %v, want %v", got, want)
				}
			}
		})
	}
	wg.Wait()
}

func TestDistinctAndIn(t *testing.T) {
	a := abac.Conj{abac.In("ward", "7")}
	b := abac.Conj{abac.In("department", "social", "roads")}
	f := abac.Or(abac.FromConj(a, b), abac.FromConj(a), abac.FromConj(abac.Conj{abac.In("ward", "7")}, b))
	if got, want := f.Distinct().String(), "(ward = '7') or (department in ('social', 'roads'))"; got != want {
		t.Errorf("Distinct = %s, want %s", got, want)
	}
	if len(f.Any) != 5 {
		t.Fatalf("Distinct modified its receiver: %d conjunctions", len(f.Any))
	}
	for _, r := range []abac.Map{{"ward": "7"}, {"department": "roads"}, {"ward": "8"}, {}} {
		if f.Match(r) != f.Distinct().Match(r) {
			t.Errorf("Distinct changes what %v matches", r)
		}
	}
	if !abac.All().Distinct().MatchesAll() || !abac.None().Distinct().MatchesNone() {
		t.Error("Distinct of All or None")
	}
	if c := abac.In("ward", "7"); c.Op != abac.OpEq {
		t.Errorf("In with one value: %v", c.Op)
	}
	if c := abac.In("ward", "7", "8"); c.Op != abac.OpIn || len(c.Values) != 2 {
		t.Errorf("In with two values: %v", c)
	}
}
