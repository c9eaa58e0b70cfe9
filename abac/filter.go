package abac

// Op is the operator of a [Cond]. The zero Op is invalid: a Cond with it
// matches nothing and does not render.
type Op uint8

// Operators. Every operator except [OpIsNull] is false when the field is
// NULL, as in SQL.
const (
	OpEq        Op = iota + 1 // field = Values[0]; exactly one value
	OpNe                      // field != Values[0]; exactly one value
	OpIn                      // field in Values; no values matches nothing
	OpIsNull                  // field is null; no values
	OpIsNotNull               // field is not null; no values
	OpNotIn                   // field not in Values; at least one value
)

// String returns the operator in rule syntax ("=", "!=", "in", "is null",
// "is not null", "not in").
func (o Op) String() string {
	switch o {
	case OpEq:
		return "="
	case OpNe:
		return "!="
	case OpIn:
		return "in"
	case OpIsNull:
		return "is null"
	case OpIsNotNull:
		return "is not null"
	case OpNotIn:
		return "not in"
	}
	return "<invalid op>"
}

// A Cond compares a logical record field (e.g. "ward") with values. Values
// are strings or integers (any Go integer type, widened to int64); see the
// package documentation for how they compare. A Cond that breaks the value
// count of its [Op] or holds another type of value is malformed: it matches
// nothing, and rendering it to SQL is an error wrapping [ErrInvalidFilter].
type Cond struct {
	Field  string
	Op     Op
	Values []any
}

// A Conj matches records that satisfy every Cond. An empty Conj matches
// nothing (it is not "true": use [All] for no restriction), so a Conj left
// empty by mistake fails closed.
type Conj []Cond

// A Filter says which records a subject may see. It is data, not SQL: it
// matches records in memory ([Filter.Match]) and renders itself for a
// database ([Filter.SQL]); adapters translate it for other stores.
//
// A Filter is in one of three states: everything ([All]), nothing ([None])
// or the records matching any one Conj in Any. The zero Filter matches
// nothing, so a forgotten filter fails closed. Build Filters with [All],
// [None], [FromConj], [FilterFor], [Or] and [Filter.And]; they never modify
// their arguments, and a Filter is safe for concurrent use as long as no one
// modifies the slices in Any.
type Filter struct {
	all bool
	// Any holds the alternatives: a record passes if it satisfies any one
	// of them. Empty Conjs are ignored. Any is ignored by the All filter.
	Any []Conj
}

// All returns the Filter that matches every record: no restriction.
func All() Filter { return Filter{all: true} }

// None returns the Filter that matches no record. It equals the zero Filter.
func None() Filter { return Filter{} }

// FromConj returns the Filter matching records that satisfy any one of cs.
// Empty Conjs are dropped; with none left the result is [None].
func FromConj(cs ...Conj) Filter {
	var alts []Conj
	for _, c := range cs {
		if len(c) > 0 {
			if alts == nil {
				alts = make([]Conj, 0, len(cs))
			}
			alts = append(alts, c)
		}
	}
	return Filter{Any: alts}
}

// Or returns the Filter matching records that any one of fs matches: [All]
// if any of them is All, [None] if there are none or all are None.
func Or(fs ...Filter) Filter {
	n := 0
	for _, f := range fs {
		if f.all {
			return All()
		}
		n += len(f.Any)
	}
	if n == 0 {
		return None()
	}
	alts := make([]Conj, 0, n)
	for _, f := range fs {
		for _, c := range f.Any {
			if len(c) > 0 {
				alts = append(alts, c)
			}
		}
	}
	return Filter{Any: alts}
}

// Distinct returns f with each repeated conjunction (the same conditions in
// the same order, as [Conj.String] writes them) kept once, at its first
// place, so that a union of overlapping grants renders no clause twice. It
// matches the same records as f.
func (f Filter) Distinct() Filter {
	if f.all || len(f.Any) < 2 {
		return f
	}
	seen := make(map[string]bool, len(f.Any))
	out := make([]Conj, 0, len(f.Any))
	for _, c := range f.Any {
		if k := c.String(); !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return FromConj(out...)
}

// In returns the condition "field is one of values": an equality when
// there is one value, [OpIn] otherwise. It keeps values as given; the
// caller must not modify them afterwards.
func In(field string, values ...any) Cond {
	if len(values) == 1 {
		return Cond{Field: field, Op: OpEq, Values: values}
	}
	return Cond{Field: field, Op: OpIn, Values: values}
}

// And returns the Filter matching records that both f and g match, for
// example a data-scope rule intersected with a scope-derived filter. All is
// the identity and None absorbs. Otherwise the result is distributed into
// one OR of ANDs, so it holds len(f.Any)*len(g.Any) conjunctions.
func (f Filter) And(g Filter) Filter {
	switch {
	case f.all:
		return g
	case g.all:
		return f
	}
	var alts []Conj
	for _, a := range f.Any {
		if len(a) == 0 {
			continue
		}
		for _, b := range g.Any {
			if len(b) == 0 {
				continue
			}
			c := make(Conj, 0, len(a)+len(b))
			c = append(append(c, a...), b...)
			alts = append(alts, c)
		}
	}
	return Filter{Any: alts}
}

// MatchesAll reports whether f is the [All] filter.
func (f Filter) MatchesAll() bool { return f.all }

// MatchesNone reports whether f is the [None] filter: it is not All and
// has no non-empty Conj. (A Filter whose conditions cannot be satisfied,
// such as "in" with no values, may also match nothing without being None.)
func (f Filter) MatchesNone() bool {
	if f.all {
		return false
	}
	for _, c := range f.Any {
		if len(c) > 0 {
			return false
		}
	}
	return true
}

// Match reports whether f admits the record r. A nil r is a record with no
// fields. A field r does not have, or whose value is nil or a nil pointer,
// is NULL: it satisfies only [OpIsNull].
func (f Filter) Match(r Record) bool {
	if f.all {
		return true
	}
	if r == nil {
		r = Map(nil)
	}
	for _, c := range f.Any {
		if c.Match(r) {
			return true
		}
	}
	return false
}

// Match reports whether r satisfies every Cond of c. An empty Conj matches
// nothing.
func (c Conj) Match(r Record) bool {
	if len(c) == 0 {
		return false
	}
	if r == nil {
		r = Map(nil)
	}
	for i := range c {
		if !c[i].Match(r) {
			return false
		}
	}
	return true
}

// Match reports whether the record r satisfies c. A NULL field satisfies
// only [OpIsNull]; a malformed Cond matches nothing.
func (c Cond) Match(r Record) bool {
	var raw any
	if r != nil {
		raw, _ = r.Field(c.Field)
	}
	v := normalize(raw)
	switch c.Op {
	case OpIsNull:
		return len(c.Values) == 0 && v.k == kindNull
	case OpIsNotNull:
		return len(c.Values) == 0 && v.k != kindNull && v.k != kindBad
	case OpEq, OpNe:
		if len(c.Values) != 1 {
			return false
		}
		w := normalize(c.Values[0])
		if !w.comparable() {
			return false
		}
		sameKind, equal := same(v, w)
		if c.Op == OpEq {
			return equal
		}
		return sameKind && !equal
	case OpNotIn:
		// Like "!=" for each value: false for NULL, and false unless the
		// field has the type of every value.
		if len(c.Values) == 0 || !v.comparable() {
			return false
		}
		for _, x := range c.Values {
			w := normalize(x)
			if !w.comparable() {
				return false
			}
			if sameKind, equal := same(v, w); !sameKind || equal {
				return false
			}
		}
		return true
	case OpIn:
		found := false
		for _, x := range c.Values {
			w := normalize(x)
			if !w.comparable() {
				return false // malformed, as in SQL rendering
			}
			if _, equal := same(v, w); equal {
				found = true
			}
		}
		return found
	}
	return false
}

// String describes f in rule syntax: "all", "none", a single conjunction,
// or parenthesised conjunctions joined by "or". It is meant for logs and
// tests, not for parsing.
func (f Filter) String() string {
	if f.all {
		return "all"
	}
	n := 0
	for _, c := range f.Any {
		if len(c) > 0 {
			n++
		}
	}
	if n == 0 {
		return "none"
	}
	var b []byte
	first := true
	for _, c := range f.Any {
		if len(c) == 0 {
			continue
		}
		if !first {
			b = append(b, " or "...)
		}
		first = false
		if n > 1 {
			b = append(b, '(')
		}
		b = c.appendString(b)
		if n > 1 {
			b = append(b, ')')
		}
	}
	return string(b)
}

// String returns c in rule syntax, conditions joined by "and".
func (c Conj) String() string { return string(c.appendString(nil)) }

func (c Conj) appendString(b []byte) []byte {
	for i, cond := range c {
		if i > 0 {
			b = append(b, " and "...)
		}
		b = cond.appendString(b)
	}
	return b
}

// String returns c in rule syntax, e.g. "ward = 7" or
// "status in ('open', 'pending')".
func (c Cond) String() string { return string(c.appendString(nil)) }

func (c Cond) appendString(b []byte) []byte {
	b = append(b, c.Field...)
	b = append(b, ' ')
	b = append(b, c.Op.String()...)
	switch {
	case c.Op == OpIn || c.Op == OpNotIn || len(c.Values) > 1:
		b = append(b, " ("...)
		for i, x := range c.Values {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendLiteral(b, x)
		}
		b = append(b, ')')
	case len(c.Values) == 1:
		b = append(b, ' ')
		b = appendLiteral(b, c.Values[0])
	}
	return b
}
