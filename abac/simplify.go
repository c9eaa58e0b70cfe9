package abac

// Simplify returns a Filter that admits exactly the records f admits, with
// the conditions of each conjunction on one field combined where that can be
// done without changing the answer:
//
//   - "=" and "in" on a field become one "=" or "in" holding only the values
//     that satisfy every other condition on that field ("ward in ('1', '7')
//     and ward != '7'" becomes "ward = '1'");
//   - "!=" and "not in" on a field become one "not in" (or "!=");
//   - a conjunction that no record can satisfy ("ward = '1' and ward = '7'",
//     "ward is null and ward != '7'") is dropped, and so is a repeated one.
//
// A conjunction holding a malformed [Cond] is kept as it is, so that
// rendering it still reports the error. All stays All; a Filter left with no
// conjunction is [None]. Simplify does not modify f.
func (f Filter) Simplify() Filter {
	if f.all {
		return f
	}
	var out []Conj
	seen := map[string]bool{}
	for _, c := range f.Any {
		s, ok := c.simplify()
		if !ok {
			continue
		}
		key := s.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, s)
	}
	return Filter{Any: out}
}

// wellFormed reports whether c has a valid operator, the value count it
// takes and only string or integer values.
func (c Cond) wellFormed() bool {
	switch c.Op {
	case OpEq, OpNe:
		if len(c.Values) != 1 {
			return false
		}
	case OpIsNull, OpIsNotNull:
		if len(c.Values) != 0 {
			return false
		}
	case OpNotIn:
		if len(c.Values) == 0 {
			return false
		}
	case OpIn:
	default:
		return false
	}
	for _, x := range c.Values {
		if _, ok := canonical(x); !ok {
			return false
		}
	}
	return true
}

// simplify returns c simplified as described at [Filter.Simplify], and
// false if no record can satisfy it.
func (c Conj) simplify() (Conj, bool) {
	if len(c) == 0 {
		return nil, false
	}
	for i := range c {
		if !c[i].wellFormed() {
			return c, true
		}
	}
	var fields []string
	byField := map[string][]Cond{}
	for _, cond := range c {
		if _, ok := byField[cond.Field]; !ok {
			fields = append(fields, cond.Field)
		}
		byField[cond.Field] = append(byField[cond.Field], cond)
	}
	out := make(Conj, 0, len(c))
	for _, name := range fields {
		conds := byField[name]
		merged, ok := mergeField(name, conds)
		if !ok {
			return nil, false
		}
		out = append(out, merged...)
	}
	return out, true
}

// mergeField combines the well-formed conditions on one field.
func mergeField(name string, conds []Cond) ([]Cond, bool) {
	pos := -1 // the first "=" or "in"
	for i, cond := range conds {
		if cond.Op == OpEq || cond.Op == OpIn {
			pos = i
			break
		}
	}
	if pos >= 0 {
		// The field must hold one of these values; keep those that pass
		// every condition on the field.
		var keep []any
		for _, x := range conds[pos].Values {
			v, _ := canonical(x)
			rec := Map{name: v}
			ok := true
			for _, cond := range conds {
				if !cond.Match(rec) {
					ok = false
					break
				}
			}
			if ok && !containsValue(keep, v) {
				keep = append(keep, v)
			}
		}
		switch len(keep) {
		case 0:
			return nil, false
		case 1:
			return []Cond{{Field: name, Op: OpEq, Values: keep}}, true
		}
		return []Cond{{Field: name, Op: OpIn, Values: keep}}, true
	}
	var null, notNull bool
	var excluded []any
	for _, cond := range conds {
		switch cond.Op {
		case OpIsNull:
			null = true
		case OpIsNotNull:
			notNull = true
		case OpNe, OpNotIn:
			for _, x := range cond.Values {
				v, _ := canonical(x)
				if !containsValue(excluded, v) {
					excluded = append(excluded, v)
				}
			}
		}
	}
	switch {
	case null && (notNull || len(excluded) > 0):
		return nil, false // every operator but "is null" is false on NULL
	case null:
		return []Cond{{Field: name, Op: OpIsNull}}, true
	case len(excluded) == 1:
		return []Cond{{Field: name, Op: OpNe, Values: excluded}}, true
	case len(excluded) > 1:
		return []Cond{{Field: name, Op: OpNotIn, Values: excluded}}, true
	}
	return []Cond{{Field: name, Op: OpIsNotNull}}, true
}

func containsValue(xs []any, v any) bool {
	for _, x := range xs {
		if x == v { // canonical strings and int64s compare by value
			return true
		}
	}
	return false
}

// Text returns the value of field in r if it is text (a string, a pointer to
// one, or a database/sql/driver.Valuer giving one), as [Cond.Match] reads
// it: "ward = '7'" holds for r exactly when Text(r, "ward") returns "7",
// true. It returns false for NULL, a missing field and values of other
// types.
func Text(r Record, field string) (string, bool) {
	if r == nil {
		return "", false
	}
	raw, _ := r.Field(field)
	v := normalize(raw)
	if v.k != kindString {
		return "", false
	}
	return v.s, true
}

// Attributes returns the subject attributes r names, in order, without
// duplicates ("ward" for "ward = subject.ward").
func (r Rule) Attributes() []string {
	var out []string
	for _, c := range r.conds {
		if c.attr == "" {
			continue
		}
		dup := false
		for _, a := range out {
			if a == c.attr {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, c.attr)
		}
	}
	return out
}
