package masking

import (
	"fmt"
	"reflect"
)

// op says what the walker does with a value of one type.
type op uint8

const (
	opSkip   op = iota // nothing masked can be reached: leave it alone
	opStruct           // apply field rules, walk nested fields
	opPtr              // walk the pointee
	opSlice            // walk each element
	opArray            // walk each element
	opMap              // walk each value, setting it back
	opIface            // look up the dynamic type's plan and walk it
)

// target says how a rule masks its field.
type target uint8

const (
	tgtString    target = iota + 1 // string kind: SetString(mask(s))
	tgtStringPtr                   // *string: point at a new masked string
	tgtSIN                         // SIN: zero it
	tgtSINPtr                      // *SIN: point at a new zero SIN
	tgtZero                        // any other kind, mask "redact": zero it
	tgtElems                       // slice or array of a leaf target
	tgtMapValues                   // map whose values are a leaf target
)

// typePlan is the reflection plan for one type, built once per Engine and
// read concurrently afterwards; it is never modified once published.
type typePlan struct {
	typ    reflect.Type
	op     op
	fields []fieldPlan // opStruct: only fields that need work
	key    int         // opStruct: index of the iam:"key" field, or -1
	elem   *typePlan   // opPtr, opSlice, opArray, opMap
	mkey   *typePlan   // opMap: the key's plan, nil when keys need no work
	track  bool        // opPtr, opSlice, opMap: values of this type can be part of a cycle
	record bool        // opStruct: a value of this type is a record (Options.Records)
	nanKey bool        // opMap: a key can be unequal to itself (NaN), so values are not set back by key
	err    error       // a *TagError: the type cannot be masked
}

// fieldPlan is one struct field that needs work.
type fieldPlan struct {
	index int
	name  string
	rule  *rule     // nil: walk sub
	sub   *typePlan // nested plan; for a rule, walked when the permission is held
	embed bool      // an embedded field: part of the enclosing record, never a record of its own
}

// rule is a masked field.
type rule struct {
	perm   string // "" means no permission unmasks the field
	permID int    // index into walker.decided, or -1
	pii    bool
	mask   Masker
	target target
	leaf   target // for tgtElems and tgtMapValues
}

var (
	sinType     = reflect.TypeFor[SIN]()
	sinColType  = reflect.TypeFor[SINColumn]()
	stringerTyp = reflect.TypeFor[fmt.Stringer]()
)

// planFor returns the cached plan for t, building it on first use.
func (e *Engine) planFor(t reflect.Type) (*typePlan, error) {
	if p, ok := e.plans.Load(t); ok {
		p := p.(*typePlan)
		return p, p.err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.plans.Load(t); ok {
		p := p.(*typePlan)
		return p, p.err
	}
	b := builder{e: e, plans: make(map[reflect.Type]*typePlan)}
	p := b.build(t)
	if b.err == nil {
		b.finish()
	}
	if b.err != nil {
		p = &typePlan{typ: t, err: b.err}
		e.plans.Store(t, p)
		return p, p.err
	}
	for _, q := range b.order {
		e.plans.Store(q.typ, q)
	}
	return p, nil
}

// builder builds the plans for one type and every type it reaches
// statically. It runs under Engine.mu.
type builder struct {
	e      *Engine
	plans  map[reflect.Type]*typePlan // built in this run, by type
	order  []*typePlan
	embeds []embedCheck
	err    error // the first *TagError met
}

// embedCheck is an embedded pointer to an unexported struct type. Its fields
// can be read but the pointer cannot be replaced in a copy, so it must not
// hold anything masked.
type embedCheck struct {
	owner reflect.Type
	field reflect.StructField
	sub   *typePlan
}

func (b *builder) fail(t reflect.Type, f reflect.StructField, reason string) {
	if b.err == nil {
		b.err = &TagError{Type: t.String(), Field: f.Name, Tag: string(f.Tag), Reason: reason}
	}
}

func (b *builder) build(t reflect.Type) *typePlan {
	if v, ok := b.e.plans.Load(t); ok {
		p := v.(*typePlan)
		if p.err != nil && b.err == nil {
			b.err = p.err // a type that failed before fails every type holding it
		}
		return p
	}
	if p, ok := b.plans[t]; ok {
		return p
	}
	p := &typePlan{typ: t, key: -1}
	b.plans[t] = p
	b.order = append(b.order, p)
	switch t.Kind() {
	case reflect.Pointer:
		p.op, p.elem = opPtr, b.build(t.Elem())
	case reflect.Slice:
		p.op, p.elem = opSlice, b.build(t.Elem())
	case reflect.Array:
		if t.Len() > 0 {
			p.op, p.elem = opArray, b.build(t.Elem())
		}
	case reflect.Map:
		p.op, p.elem, p.mkey, p.nanKey = opMap, b.build(t.Elem()), b.build(t.Key()), mayBeNaN(t.Key(), 0)
	case reflect.Interface:
		p.op = opIface
	case reflect.Struct:
		if t != sinType && t != sinColType {
			p.op = opStruct
			b.buildStruct(p, t)
			if b.e.records != nil {
				p.record = b.e.records(t)
			} else {
				p.record = p.key >= 0
			}
		}
	}
	return p
}

func (b *builder) buildStruct(p *typePlan, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		spec, reason := parseTag(f.Tag)
		if reason != "" {
			b.fail(t, f, reason)
			return
		}
		if !f.IsExported() {
			if spec.key || spec.rule {
				b.fail(t, f, "unexported fields cannot be masked or be the key; export the field or drop the tag")
				return
			}
			if f.Anonymous {
				switch {
				case f.Type.Kind() == reflect.Struct:
					// Promoted fields of an embedded struct are settable,
					// as encoding/json finds them.
					p.fields = append(p.fields, fieldPlan{index: i, name: f.Name, sub: b.build(f.Type), embed: true})
				case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
					b.embeds = append(b.embeds, embedCheck{owner: t, field: f, sub: b.build(f.Type)})
				}
			}
			continue
		}
		switch {
		case spec.key:
			if p.key >= 0 {
				b.fail(t, f, "a struct can have only one key field")
				return
			}
			if !keyable(f.Type) {
				b.fail(t, f, "the key field must be a string, an integer or a fmt.Stringer")
				return
			}
			p.key = i
		case spec.rule:
			r, sub, reason := b.rule(spec, f.Type)
			if reason != "" {
				b.fail(t, f, reason)
				return
			}
			p.fields = append(p.fields, fieldPlan{index: i, name: f.Name, rule: r, sub: sub})
		default:
			p.fields = append(p.fields, fieldPlan{index: i, name: f.Name, sub: b.build(f.Type), embed: f.Anonymous})
		}
	}
}

// mayBeNaN reports whether a map key of type t can be unequal to itself:
// a float or complex number, an interface, or an array or struct holding
// one. Such a key cannot be used to set a value back.
func mayBeNaN(t reflect.Type, depth int) bool {
	if depth > 64 {
		return true // absurdly nested key types: take the safe path
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.Interface:
		return true
	case reflect.Array:
		return t.Len() > 0 && mayBeNaN(t.Elem(), depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			if mayBeNaN(t.Field(i).Type, depth+1) {
				return true
			}
		}
	}
	return false
}

func keyable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return t.Implements(stringerTyp)
}

// leafTarget returns how a single value of type t is masked, or 0.
func leafTarget(t reflect.Type) target {
	switch {
	case t == sinType || t == sinColType:
		return tgtSIN
	case t.Kind() == reflect.String:
		return tgtString
	case t.Kind() == reflect.Pointer && (t.Elem() == sinType || t.Elem() == sinColType):
		return tgtSINPtr
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.String:
		return tgtStringPtr
	}
	return 0
}

func (b *builder) rule(spec tagSpec, t reflect.Type) (*rule, *typePlan, string) {
	m, ok := builtin(spec.mask)
	if !ok {
		m, ok = b.e.maskers[spec.mask]
	}
	if !ok {
		return nil, nil, fmt.Sprintf("unknown mask %q", spec.mask)
	}
	r := &rule{perm: spec.perm, permID: -1, pii: spec.pii, mask: m}
	if spec.perm != "" {
		r.permID = b.e.permID(spec.perm)
	}
	var sub *typePlan
	leaf := leafTarget(t)
	switch {
	case leaf != 0:
		r.target = leaf
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && leafTarget(t.Elem()) != 0:
		r.target, r.leaf = tgtElems, leafTarget(t.Elem())
	case t.Kind() == reflect.Map && leafTarget(t.Elem()) != 0:
		r.target, r.leaf = tgtMapValues, leafTarget(t.Elem())
	case spec.mask == MaskRedact:
		r.target, sub = tgtZero, b.build(t)
	default:
		return nil, nil, fmt.Sprintf("mask %q applies to strings, *string, SIN and slices, arrays and maps of them, not %s", spec.mask, t)
	}
	if (r.target == tgtSIN || r.target == tgtSINPtr || r.leaf == tgtSIN || r.leaf == tgtSINPtr) &&
		spec.mask != MaskSIN && spec.mask != MaskRedact {
		return nil, nil, fmt.Sprintf("a SIN field takes mask %q or %q, not %q", MaskSIN, MaskRedact, spec.mask)
	}
	return r, sub, ""
}

// permID returns the small integer that indexes walker.decided for perm,
// or -1 once the Engine has seen more permissions than that array holds.
// It runs under Engine.mu.
func (e *Engine) permID(perm string) int {
	if id, ok := e.perms[perm]; ok {
		return id
	}
	if len(e.perms) >= decisionCache {
		return -1
	}
	if e.perms == nil {
		e.perms = make(map[string]int)
	}
	id := len(e.perms)
	e.perms[perm] = id
	return id
}

// finish prunes the plans built in this run down to what needs work, checks
// embedded pointers, and marks the reference types that can form cycles.
func (b *builder) finish() {
	need := make(map[*typePlan]bool, len(b.order))
	needed := func(q *typePlan) bool {
		if q == nil {
			return false
		}
		if b.plans[q.typ] == q {
			return need[q]
		}
		return q.op != opSkip
	}
	for changed := true; changed; {
		changed = false
		for _, p := range b.order {
			if need[p] {
				continue
			}
			n := false
			switch p.op {
			case opIface:
				n = true
			case opStruct:
				for _, f := range p.fields {
					if f.rule != nil || needed(f.sub) {
						n = true
						break
					}
				}
			case opPtr, opSlice, opArray:
				n = needed(p.elem)
			case opMap:
				n = needed(p.elem) || needed(p.mkey)
			}
			if n {
				need[p], changed = true, true
			}
		}
	}
	for _, c := range b.embeds {
		if needed(c.sub) {
			b.fail(c.owner, c.field, "an embedded pointer to an unexported struct type cannot hold masked fields; embed it by value or export the type")
			return
		}
	}
	for _, p := range b.order {
		if !need[p] {
			p.op, p.fields, p.elem, p.mkey, p.key = opSkip, nil, nil, nil, -1
			continue
		}
		if p.op == opMap && !needed(p.mkey) {
			p.mkey = nil
		}
		if p.op == opStruct {
			kept := p.fields[:0]
			for _, f := range p.fields {
				if !needed(f.sub) {
					f.sub = nil
				}
				if f.rule != nil || f.sub != nil {
					kept = append(kept, f)
				}
			}
			p.fields = kept
		}
	}
	for _, p := range b.order {
		switch p.op {
		case opPtr, opSlice, opMap:
			p.track = reaches(p.elem, p, make(map[*typePlan]bool))
		}
	}
}

// reaches reports whether walking q can lead back to a value of plan p, or
// to an interface, whose dynamic value could.
func reaches(q, p *typePlan, seen map[*typePlan]bool) bool {
	if q == p {
		return true
	}
	if q == nil || seen[q] {
		return false
	}
	seen[q] = true
	switch q.op {
	case opIface:
		return true
	case opStruct:
		for _, f := range q.fields {
			if reaches(f.sub, p, seen) {
				return true
			}
		}
	case opPtr, opSlice, opArray:
		return reaches(q.elem, p, seen)
	case opMap:
		return reaches(q.elem, p, seen) || reaches(q.mkey, p, seen)
	}
	return false
}
