package masking

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// decisionCache is how many distinct permissions a walker remembers the
// answer for within one call.
const decisionCache = 64

// pathDepth is how deep a field path can be before it is kept on the heap.
const pathDepth = 16

// MaxDepth is how deeply nested a value the Engine masks or copies can be:
// each pointer, struct, slice, array, map and interface on the way down
// counts one level. A deeper value is refused with a [*ValueError]; the
// part beyond the limit is cut off (set to its zero value) in the value
// being masked, so no unmasked data is left reachable from it.
const MaxDepth = 100_000

// walker masks one value in place. It lives on the caller's stack for the
// length of one call.
type walker struct {
	e       *Engine
	method  string                          // the Engine method, for errors
	may     func(perm string) bool          // decides for the caller; nil holds nothing
	mayRec  func(perm string, rec any) bool // decides per record; set instead of may
	viewed  func(View)
	reveal  bool                 // a JSON copy: mark the SINs the caller may see
	seen    map[seenKey]int32    // reference values already walked, with the record walked for; made on first use
	decided [decisionCache]uint8 // by rule.permID: 0 not asked, 1 denied, 2 held
	rec     any                  // mayRec: the enclosing record, as it was on entry
	recID   int32                // mayRec: a number for the enclosing record, unique in the walk; 0 for none
	recs    int32                // mayRec: records entered so far
	forAll  bool                 // masking a shared part for every record: records in it decide for themselves
	inRec   bool                 // the next struct walked is embedded in the current record
	depth   int
	deep    error // a *ValueError: part of the value lay deeper than MaxDepth and was cut off
}

// seenKey identifies a pointer, slice or map value: its address, its length
// for a slice, and its type.
type seenKey struct {
	ptr uintptr
	n   int
	typ reflect.Type
}

// Values of seen besides record numbers.
const (
	seenForAll  int32 = -1 // walked with nothing held: masked for every record
	seenOwnSelf int32 = -2 // holds records, which decide their own fields
)

// visit reports whether the reference v of plan p was walked already, and
// records it. With per-record decisions, a reference reached again from
// another record than the one it was walked for, and holding fields that
// record decides (not records of their own), is masked again with nothing
// held: what two records share is shown only if both may show it, so that
// neither the order of the records nor the sharing can leak the fields of
// the record the caller may not see.
func (w *walker) visit(v reflect.Value, n int, p *typePlan, path []seg, key reflect.Value) bool {
	k := seenKey{ptr: v.Pointer(), n: n, typ: p.typ}
	by := w.recID
	if w.mayRec != nil && p.elem != nil && p.elem.op == opStruct && p.elem.record {
		by = seenOwnSelf
	}
	if w.seen == nil {
		w.seen = make(map[seenKey]int32)
	} else if was, ok := w.seen[k]; ok {
		if w.mayRec == nil || was == by || was == seenForAll || was == seenOwnSelf {
			return true
		}
		w.seen[k] = seenForAll
		w.maskForAll(v, p, path, key)
		return true
	}
	w.seen[k] = by
	return false
}

// maskForAll masks v, a value of plan p, as if the caller held nothing.
// The records it holds are left as they are: the walk that first reached
// v decided each of them for itself.
func (w *walker) maskForAll(v reflect.Value, p *typePlan, path []seg, key reflect.Value) {
	d := walker{e: w.e, method: w.method, depth: w.depth, forAll: true}
	if err := d.walk1(v, p, path, key); err != nil || d.deep != nil {
		if w.deep == nil {
			w.deep = d.deep
		}
		if err != nil && v.CanSet() {
			v.SetZero() // not left half-masked
		}
	}
}

// allowed reports whether the caller holds r's permission (for the
// enclosing record, with mayRec). A nil may holds nothing.
func (w *walker) allowed(r *rule) bool {
	if (w.may == nil && w.mayRec == nil) || r.perm == "" {
		return false
	}
	if r.permID < 0 {
		return w.ask(r.perm)
	}
	switch w.decided[r.permID] {
	case 1:
		return false
	case 2:
		return true
	}
	ok := w.ask(r.perm)
	w.decided[r.permID] = 1
	if ok {
		w.decided[r.permID] = 2
	}
	return ok
}

func (w *walker) ask(perm string) bool {
	if w.mayRec != nil {
		return w.mayRec(perm, w.rec)
	}
	return w.may(perm)
}

// tooDeep cuts v off (sets it to its zero value) and records the error for
// a value nested deeper than MaxDepth. The walk goes on, so that every
// sibling at that depth is cut off too and nothing unmasked stays
// reachable; the caller returns the error at the end.
func (w *walker) tooDeep(v reflect.Value) {
	if v.CanSet() {
		v.SetZero()
	}
	if w.deep == nil {
		w.deep = &ValueError{Method: w.method, Type: v.Type().String(), Reason: "the value is nested more than " + strconv.Itoa(MaxDepth) + " levels deep"}
	}
}

// run walks v from the top and returns the first error.
func (w *walker) run(v reflect.Value, p *typePlan) error {
	var path [pathDepth]seg
	if err := w.walk(v, p, path[:0], reflect.Value{}); err != nil {
		return err
	}
	return w.deep
}

// walk masks v, a value of p.typ. path names v for View.Field; key is the
// nearest enclosing record key field, if any.
func (w *walker) walk(v reflect.Value, p *typePlan, path []seg, key reflect.Value) error {
	if w.depth >= MaxDepth {
		w.tooDeep(v)
		return nil
	}
	w.depth++
	err := w.walk1(v, p, path, key)
	w.depth--
	return err
}

func (w *walker) walk1(v reflect.Value, p *typePlan, path []seg, key reflect.Value) error {
	switch p.op {
	case opStruct:
		if p.key >= 0 {
			key = v.Field(p.key)
		}
		embedded := w.inRec
		w.inRec = false
		if w.forAll && p.record && !embedded {
			return nil
		}
		if p.record && w.mayRec != nil && !embedded {
			// A record of its own: its fields are decided for it, on the
			// record as it is before any of them is masked.
			outer, outerID, decided := w.rec, w.recID, w.decided
			w.recs++
			w.rec, w.recID, w.decided = nil, w.recs, [decisionCache]uint8{}
			if v.CanInterface() {
				w.rec = v.Interface()
			}
			err := w.fields(v, p, path, key)
			w.rec, w.recID, w.decided = outer, outerID, decided
			return err
		}
		return w.fields(v, p, path, key)
	case opPtr:
		if v.IsNil() || (p.track && w.visit(v, 0, p, path, key)) {
			return nil
		}
		return w.walk(v.Elem(), p.elem, path, key)
	case opSlice:
		if v.Len() == 0 || (p.track && w.visit(v, v.Len(), p, path, key)) {
			return nil
		}
		return w.walkElems(v, p.elem, path, key)
	case opArray:
		return w.walkElems(v, p.elem, path, key)
	case opMap:
		if v.Len() == 0 || (p.track && w.visit(v, 0, p, path, key)) {
			return nil
		}
		return w.walkMap(v, p, path, key)
	case opIface:
		if v.IsNil() {
			return nil
		}
		e := v.Elem()
		dp, err := w.e.planFor(e.Type())
		if err != nil || dp.op == opSkip {
			return err
		}
		switch e.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			// Reference values are masked where they point.
			return w.walk(e, dp, path, key)
		}
		// A value held in an interface cannot be changed: mask a copy and
		// put that back.
		tmp := reflect.New(e.Type()).Elem()
		tmp.Set(e)
		if err := w.walk(tmp, dp, path, key); err != nil {
			v.SetZero() // a half-masked copy is not put back
			return err
		}
		v.Set(tmp)
	}
	return nil
}

// fields walks the fields of v, a struct of plan p.
func (w *walker) fields(v reflect.Value, p *typePlan, path []seg, key reflect.Value) error {
	for i := range p.fields {
		f := &p.fields[i]
		fpath := append(path, seg{kind: segField, name: f.name})
		var err error
		if f.rule != nil {
			err = w.apply(v.Field(f.index), f, fpath, key)
		} else {
			w.inRec = f.embed
			err = w.walk(v.Field(f.index), f.sub, fpath, key)
			w.inRec = false
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) walkElems(v reflect.Value, elem *typePlan, path []seg, key reflect.Value) error {
	for i := range v.Len() {
		if err := w.walk(v.Index(i), elem, append(path, seg{kind: segIndex, index: i}), key); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) walkMap(v reflect.Value, p *typePlan, path []seg, key reflect.Value) error {
	elem := p.elem
	t := v.Type()
	k := reflect.New(t.Key()).Elem()
	basic := basicKey(t.Key().Kind())
	node := seg{kind: segKey, key: k}
	label := func() []seg {
		if !basic {
			node.name = keyLabel(k)
		}
		return append(path, node)
	}
	if p.mkey != nil {
		// Keys hold masked data too. A key cannot be changed in place:
		// mask a copy of every key and value, then refill the map. Keys
		// that mask to the same key become one entry.
		keys, vals, n := takeEntries(v)
		for j := range n {
			mk, mv := keys.Index(j), vals.Index(j)
			k.Set(mk)
			if err := w.walk(mk, p.mkey, label(), key); err != nil {
				return err
			}
			if err := w.walk(mv, elem, label(), key); err != nil {
				return err
			}
		}
		refill(v, keys, vals, n)
		return nil
	}
	it := v.MapRange()
	switch t.Elem().Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map:
		// Masked where they point; the map itself does not change.
		for it.Next() {
			k.SetIterKey(it)
			if err := w.walk(it.Value(), elem, label(), key); err != nil {
				return err
			}
		}
		return nil
	}
	if p.nanKey {
		// A key that is not equal to itself (NaN) cannot be looked up: set
		// back by key, its masked value would be added beside the original.
		// Mask every entry, then refill the map.
		keys, vals, n := takeEntries(v)
		for j := range n {
			k.Set(keys.Index(j))
			if err := w.walk(vals.Index(j), elem, label(), key); err != nil {
				return err
			}
		}
		refill(v, keys, vals, n)
		return nil
	}
	val := reflect.New(t.Elem()).Elem()
	for it.Next() {
		k.SetIterKey(it)
		val.SetIterValue(it)
		if err := w.walk(val, elem, label(), key); err != nil {
			v.SetMapIndex(k, reflect.Zero(t.Elem())) // not left half-masked
			return err
		}
		v.SetMapIndex(k, val)
	}
	return nil
}

// takeEntries copies the entries of the map v into two slices and empties
// the map. The caller masks the copies and puts them back with refill,
// without looking keys up, so that keys unequal to themselves (NaN) keep
// exactly one entry each. A caller that stops on an error leaves the map
// empty: nothing unmasked stays in it.
func takeEntries(v reflect.Value) (keys, vals reflect.Value, n int) {
	t := v.Type()
	n = v.Len()
	keys = reflect.MakeSlice(reflect.SliceOf(t.Key()), n, n)
	vals = reflect.MakeSlice(reflect.SliceOf(t.Elem()), n, n)
	i := 0
	for it := v.MapRange(); it.Next() && i < n; i++ {
		keys.Index(i).SetIterKey(it)
		vals.Index(i).SetIterValue(it)
	}
	v.Clear()
	return keys, vals, i
}

// refill puts the first n entries of keys and vals into the map v.
func refill(v, keys, vals reflect.Value, n int) {
	for j := range n {
		v.SetMapIndex(keys.Index(j), vals.Index(j))
	}
}

// apply masks one tagged field, or leaves it and reports the view when the
// caller holds its permission.
func (w *walker) apply(v reflect.Value, f *fieldPlan, path []seg, key reflect.Value) error {
	r := f.rule
	if w.allowed(r) {
		if r.pii && w.viewed != nil {
			w.viewed(View{Permission: r.perm, Field: pathString(path), Key: keyString(key)})
		}
		if w.reveal {
			revealField(v, r)
		}
		if f.sub != nil {
			return w.walk(v, f.sub, path, key)
		}
		return nil
	}
	switch r.target {
	case tgtZero:
		v.SetZero()
	case tgtElems:
		for i := range v.Len() {
			maskLeaf(v.Index(i), r.leaf, r.mask)
		}
	case tgtMapValues:
		if v.Len() == 0 {
			return nil
		}
		t := v.Type()
		if mayBeNaN(t.Key(), 0) {
			keys, vals, n := takeEntries(v)
			for j := range n {
				maskLeaf(vals.Index(j), r.leaf, r.mask)
			}
			refill(v, keys, vals, n)
			return nil
		}
		k, val := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		for it := v.MapRange(); it.Next(); {
			k.SetIterKey(it)
			val.SetIterValue(it)
			maskLeaf(val, r.leaf, r.mask)
			v.SetMapIndex(k, val)
		}
	default:
		maskLeaf(v, r.target, r.mask)
	}
	return nil
}

// revealField marks the SINs of a tagged field the caller may see, in an
// Engine's private JSON copy, so that they encode as their digits. The copy
// keeps the shape of shared references, so a pointer, slice or map of the
// field may also be reached through another field (untagged, or tagged with
// a permission the caller lacks): the field is first given its own pointee,
// backing array or map, and only that is marked, so the other field still
// encodes as the mask.
func revealField(v reflect.Value, r *rule) {
	switch r.target {
	case tgtSIN, tgtSINPtr:
		revealLeaf(v, r.target)
	case tgtElems:
		if r.leaf == tgtSIN || r.leaf == tgtSINPtr {
			if v.Kind() == reflect.Slice {
				if v.IsNil() || !v.CanSet() {
					return
				}
				own := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
				reflect.Copy(own, v)
				v.Set(own)
			}
			for i := range v.Len() {
				revealLeaf(v.Index(i), r.leaf)
			}
		}
	case tgtMapValues:
		if (r.leaf == tgtSIN || r.leaf == tgtSINPtr) && v.Len() > 0 && v.CanSet() {
			keys, vals, n := entries(v)
			for j := range n {
				revealLeaf(vals.Index(j), r.leaf)
			}
			own := reflect.MakeMapWithSize(v.Type(), n)
			refill(own, keys, vals, n)
			v.Set(own)
		}
	}
}

// entries returns copies of the entries of the map v, leaving v as it is.
func entries(v reflect.Value) (keys, vals reflect.Value, n int) {
	t := v.Type()
	n = v.Len()
	keys = reflect.MakeSlice(reflect.SliceOf(t.Key()), n, n)
	vals = reflect.MakeSlice(reflect.SliceOf(t.Elem()), n, n)
	i := 0
	for it := v.MapRange(); it.Next() && i < n; i++ {
		keys.Index(i).SetIterKey(it)
		vals.Index(i).SetIterValue(it)
	}
	return keys, vals, i
}

// revealLeaf marks one SIN or SINColumn. A pointer to one is first pointed
// at a copy of its own, so that what else points at the original is not
// marked.
func revealLeaf(v reflect.Value, t target) {
	if t == tgtSINPtr {
		if v.IsNil() || !v.CanSet() {
			return
		}
		own := reflect.New(v.Type().Elem())
		own.Elem().Set(v.Elem())
		v.Set(own)
		v = own.Elem()
	}
	if !v.CanAddr() || !v.CanInterface() {
		return
	}
	switch s := v.Addr().Interface().(type) {
	case *SIN:
		s.reveal()
	case *SINColumn:
		s.reveal()
	}
}

// maskLeaf masks a string, *string, SIN or *SIN (or SINColumn). A pointer
// is replaced, not written through, so a value it shared with other data is
// left alone.
func maskLeaf(v reflect.Value, t target, m Masker) {
	switch t {
	case tgtString:
		s := v.String()
		if ms := m(s); ms != s {
			v.SetString(ms)
		}
	case tgtStringPtr:
		if v.IsNil() {
			return
		}
		s := v.Elem().String()
		ms := m(s)
		if ms == s {
			return
		}
		np := reflect.New(v.Type().Elem())
		np.Elem().SetString(ms)
		v.Set(np)
	case tgtSIN:
		v.SetZero()
	case tgtSINPtr:
		if !v.IsNil() && !v.Elem().IsZero() {
			v.Set(reflect.New(v.Type().Elem()))
		}
	}
}

// segKind is what one step of a field path is.
type segKind uint8

const (
	segField segKind = iota // .Name
	segIndex                // [3]
	segKey                  // ["home"]
)

// seg is one step of the path to the value being walked. The walker keeps
// the path in a slice on the caller's stack and turns it into a string only
// when a view is reported.
type seg struct {
	kind  segKind
	name  string        // segField: the field name; segKey: a formatted non-basic key
	index int           // segIndex
	key   reflect.Value // segKey: a key of a basic kind, formatted on demand
}

// pathString returns the dotted path, "Contacts[2].Email".
func pathString(path []seg) string {
	if len(path) == 1 && path[0].kind == segField {
		return path[0].name // a top-level field: no allocation
	}
	var b strings.Builder
	for _, s := range path {
		switch s.kind {
		case segField:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		case segIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case segKey:
			b.WriteByte('[')
			if s.name != "" {
				b.WriteString(s.name)
			} else {
				b.WriteString(formatKey(s.key))
			}
			b.WriteByte(']')
		}
	}
	return b.String()
}

// formatKey formats a map key of a basic kind for a path: strings quoted,
// numbers as they are. Other keys are formatted by walkMap into seg.name.
func formatKey(k reflect.Value) string {
	switch k.Kind() {
	case reflect.String:
		return strconv.Quote(k.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10)
	case reflect.Bool:
		return strconv.FormatBool(k.Bool())
	}
	return ""
}

// basicKey reports whether formatKey formats keys of kind k.
func basicKey(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

// keyLabel formats a map key of any other kind, eagerly.
func keyLabel(k reflect.Value) string {
	if k.CanInterface() {
		return fmt.Sprint(k.Interface())
	}
	return "?"
}

// keyString formats the record key field for View.Key.
func keyString(k reflect.Value) string {
	if !k.IsValid() {
		return ""
	}
	switch k.Kind() {
	case reflect.Pointer, reflect.Interface:
		if k.IsNil() {
			return ""
		}
	}
	if k.CanInterface() && k.Type().Implements(stringerTyp) {
		return k.Interface().(fmt.Stringer).String()
	}
	switch k.Kind() {
	case reflect.String:
		return k.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(k.Uint(), 10)
	}
	return ""
}
