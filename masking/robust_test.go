package masking_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/civic-platform/security/masking"
)

const secret = "046454286"

// pii is a record with one string and one SIN field that no caller may see.
type pii struct {
	Name string      `mask:"redact"`
	SIN  masking.SIN `mask:"sin"`
}

func newPII(t testing.TB) pii { return pii{Name: "Jane " + secret, SIN: mustSIN(t, secret)} }

// assertNoPII fails if any reachable string or SIN in v still holds the
// secret. It walks v by reflection, unexported fields included, visiting
// each reference once.
func assertNoPII(t *testing.T, what string, v any) {
	t.Helper()
	seen := map[[3]uintptr]bool{}
	var bad []string
	var walk func(reflect.Value, int)
	walk = func(v reflect.Value, depth int) {
		if !v.IsValid() || depth > 3*masking.MaxDepth {
			return
		}
		path := func() string { return fmt.Sprintf("%s at depth %d", v.Type(), depth) }
		if v.Type() == reflect.TypeFor[masking.SIN]() {
			if v.CanInterface() && v.Interface().(masking.SIN).Plain() != "" {
				bad = append(bad, path())
			}
			return
		}
		switch v.Kind() {
		case reflect.String:
			if strings.Contains(v.String(), secret) {
				bad = append(bad, path())
			}
		case reflect.Pointer, reflect.Map, reflect.Slice:
			if v.IsNil() {
				return
			}
			k := [3]uintptr{v.Pointer(), uintptr(v.Kind()), 0}
			if v.Kind() == reflect.Slice {
				k[2] = uintptr(v.Len())
			}
			if seen[k] {
				return
			}
			seen[k] = true
			switch v.Kind() {
			case reflect.Pointer:
				walk(v.Elem(), depth+1)
			case reflect.Slice:
				for i := range v.Len() {
					walk(v.Index(i), depth+1)
				}
			case reflect.Map:
				for it := v.MapRange(); it.Next(); {
					walk(it.Key(), depth+1)
					walk(it.Value(), depth+1)
				}
			}
		case reflect.Interface:
			walk(v.Elem(), depth+1)
		case reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), depth+1)
			}
		}
	}
	walk(reflect.ValueOf(v), 0)
	if len(bad) > 0 {
		if len(bad) > 5 {
			bad = bad[:5]
		}
		t.Errorf("%s: PII left at %v", what, bad)
	}
}

// maskAllWays masks v in place and as a copy and a JSON encoding, failing
// on any error, panic or PII left behind. v must be a pointer.
func maskAllWays(t *testing.T, name string, v any) {
	t.Helper()
	var eng masking.Engine
	b, err := eng.Marshal(v, nil, nil)
	var ute *json.UnsupportedTypeError
	var uve *json.UnsupportedValueError
	if err != nil && !errors.As(err, &ute) && !errors.As(err, &uve) { // JSON cannot encode every shape
		t.Fatalf("%s: Marshal: %v", name, err)
	}
	if strings.Contains(string(b), secret) {
		t.Errorf("%s: Marshal shows the secret: %.200s", name, b)
	}
	cp, err := eng.MaskCopy(v, nil, nil)
	if err != nil {
		t.Fatalf("%s: MaskCopy: %v", name, err)
	}
	assertNoPII(t, name+" copy", cp)
	if err := eng.Mask(v, nil, nil); err != nil {
		t.Fatalf("%s: Mask: %v", name, err)
	}
	assertNoPII(t, name+" in place", v)
}

func TestMaskMapsWithNaNKeys(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	type nanKey struct {
		F float64
		S string
	}
	type holder struct {
		ByFloat  map[float64]pii
		ByAny    map[any]pii
		ByStruct map[nanKey]pii
		ByArray  map[[2]float32]any
		ByCplx   map[complex128]pii
		Tagged   map[float64]string      `mask:"redact"`
		TaggedS  map[any]masking.SIN     `mask:"sin"`
		Nested   map[float64]map[any]pii // values are maps: masked where they point
	}
	mk := func() *holder {
		h := &holder{
			ByFloat:  map[float64]pii{nan: newPII(t), 1: newPII(t)},
			ByAny:    map[any]pii{nan: newPII(t), "k": newPII(t), float32(nan): newPII(t)},
			ByStruct: map[nanKey]pii{{F: nan}: newPII(t), {F: nan, S: "x"}: newPII(t)},
			ByArray:  map[[2]float32]any{{float32(nan), 1}: newPII(t)},
			ByCplx:   map[complex128]pii{complex(nan, 0): newPII(t)},
			Tagged:   map[float64]string{nan: secret, math.Inf(1): secret},
			TaggedS:  map[any]masking.SIN{nan: mustSIN(t, secret)},
			Nested:   map[float64]map[any]pii{nan: {nan: newPII(t)}},
		}
		h.ByFloat[nan] = newPII(t) // a second NaN key
		h.ByAny[nan] = newPII(t)
		return h
	}
	h := mk()
	lens := []int{len(h.ByFloat), len(h.ByAny), len(h.ByStruct), len(h.Tagged)}
	maskAllWays(t, "NaN keys", h)
	if got := []int{len(h.ByFloat), len(h.ByAny), len(h.ByStruct), len(h.Tagged)}; !reflect.DeepEqual(got, lens) {
		t.Errorf("map sizes %v after masking, want %v: an entry was added or lost", got, lens)
	}
	// A caller who may see everything keeps every entry as it was.
	h = mk()
	var eng masking.Engine
	if err := eng.Mask(h, func(string) bool { return true }, nil); err != nil {
		t.Fatal(err)
	}
	if len(h.ByFloat) != 3 {
		t.Errorf("ByFloat has %d entries, want 3", len(h.ByFloat))
	}
}

type node struct {
	ID   int `iam:"key"`
	PII  pii
	Next *node
	Any  any
	Map  map[string]any
	List []any
}

func TestMaskTypedNils(t *testing.T) {
	t.Parallel()
	type holder struct {
		Keys   map[*node]pii
		Vals   map[string]*node
		Any    map[any]any
		Iface  any
		Ifaces []any
		PS     *masking.SIN `mask:"sin"`
		PStr   *string      `mask:"email"`
		Fn     func()
		Ch     chan int
	}
	real := &node{ID: 1, PII: newPII(t)}
	h := &holder{
		Keys:   map[*node]pii{nil: newPII(t), real: newPII(t), {ID: 2, PII: newPII(t)}: newPII(t)}, // the last key reachable only as a key
		Vals:   map[string]*node{"nil": nil, "real": real},
		Any:    map[any]any{(*node)(nil): (*node)(nil), nil: newPII(t), "p": (*pii)(nil), "m": map[string]pii(nil), "s": []pii(nil), (*int)(nil): newPII(t)},
		Iface:  (*node)(nil),
		Ifaces: []any{nil, (*pii)(nil), error(nil), (fmt.Stringer)(nil), newPII(t)},
	}
	maskAllWays(t, "typed nils", h)
}

func TestMaskSelfReferences(t *testing.T) {
	t.Parallel()
	self := &node{ID: 1, PII: newPII(t)}
	self.Next = self
	self.Any = self
	m := map[string]any{"pii": newPII(t)}
	m["self"] = m
	self.Map = m
	l := make([]any, 3)
	l[0], l[1], l[2] = l, newPII(t), &l
	self.List = l
	a, b := &node{ID: 2, PII: newPII(t)}, &node{ID: 3, PII: newPII(t)}
	a.Next, b.Next = b, a
	a.Any, b.Any = []any{b, a}, map[any]any{"a": a}
	maskAllWays(t, "self", self)
	maskAllWays(t, "pair", a)

	mm := map[string]any{"pii": newPII(t)}
	mm["self"] = mm
	maskAllWays(t, "map holding itself", &mm)
	var ifc any
	ifc = &ifc
	maskAllWays(t, "interface pointing at itself", &ifc)
}

// chain returns a pointer chain n nodes long, every node holding PII.
func chain(t testing.TB, n int) *node {
	var head *node
	p := newPII(t)
	for i := range n {
		head = &node{ID: i, PII: p, Next: head}
	}
	return head
}

func TestMaskDeepPointerChain(t *testing.T) {
	t.Parallel()
	head := chain(t, 10_000)
	maskAllWays(t, "10k chain", head)
	n := 0
	for p := head; p != nil; p = p.Next {
		n++
	}
	if n != 10_000 {
		t.Errorf("chain now %d long, want 10000", n)
	}
	// Through interfaces and slices too.
	var v any = newPII(t)
	for range 5_000 {
		v = []any{v}
	}
	maskAllWays(t, "nested slices", &v)
}

// TestMaskTooDeep checks that a value nested past MaxDepth is refused with
// ErrInvalidValue, never a crash, and that no PII is left reachable.
func TestMaskTooDeep(t *testing.T) {
	t.Parallel()
	head := chain(t, masking.MaxDepth/2+100) // two levels a node: past the limit
	var eng masking.Engine
	if _, err := eng.MaskCopy(head, nil, nil); !errors.Is(err, masking.ErrInvalidValue) {
		t.Errorf("MaskCopy = %v, want ErrInvalidValue", err)
	}
	if _, err := eng.Marshal(head, nil, nil); !errors.Is(err, masking.ErrInvalidValue) {
		t.Errorf("Marshal = %v, want ErrInvalidValue", err)
	}
	err := eng.Mask(head, nil, nil)
	if !errors.Is(err, masking.ErrInvalidValue) || !strings.Contains(err.Error(), "levels deep") {
		t.Errorf("Mask = %v, want ErrInvalidValue", err)
	}
	assertNoPII(t, "cut chain", head)
}

// TestMarshalRevealsToHolder checks that Marshal writes a SIN's digits for
// a caller who holds its permission, the mask for any other, and never
// marks the caller's value.
func TestMarshalRevealsToHolder(t *testing.T) {
	t.Parallel()
	type rec struct {
		ID    string                  `iam:"key"`
		SIN   masking.SIN             `iam:"crm.citizen.sin.view" mask:"sin"`
		P     *masking.SIN            `iam:"crm.citizen.sin.view" mask:"sin"`
		L     []masking.SIN           `iam:"crm.citizen.sin.view" mask:"sin"`
		A     [1]masking.SIN          `iam:"crm.citizen.sin.view" mask:"sin"`
		M     map[string]*masking.SIN `iam:"crm.citizen.sin.view" mask:"redact"`
		Col   masking.SINColumn       `iam:"crm.citizen.sin.view" mask:"sin"`
		Other masking.SIN             `iam:"crm.citizen.other.view" mask:"sin"`
		Plain masking.SIN             // untagged: always the mask
	}
	sin := mustSIN(t, secret)
	r := rec{ID: "c-1", SIN: sin, P: &sin, L: []masking.SIN{sin}, A: [1]masking.SIN{sin}, M: map[string]*masking.SIN{"k": &sin},
		Col: masking.SINColumn{SIN: sin}, Other: sin, Plain: sin}
	var eng masking.Engine
	holder := func(p string) bool { return p == "crm.citizen.sin.view" }
	for _, v := range []any{r, &r, []rec{r}, map[string]any{"r": r}} {
		b, err := eng.Marshal(v, holder, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(b), `"`+secret+`"`); got != 6 {
			t.Errorf("holder: %d SINs shown, want 6: %s", got, b)
		}
		if got := strings.Count(string(b), masking.SINMask); got != 2 {
			t.Errorf("holder: %d masks, want 2 (Other, Plain): %s", got, b)
		}
		b, err = eng.Marshal(v, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("no permission: %s", b)
		}
	}
	// The caller's value encodes as the mask afterwards, however it is
	// encoded.
	for _, v := range []any{r, r.SIN, *r.P, r.L, r.M, r.Col} {
		b, _ := json.Marshal(v)
		if strings.Contains(string(b), secret) {
			t.Errorf("json.Marshal after a reveal: %s", b)
		}
	}
	cp, err := masking.Copy(&eng, r, holder, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(cp); strings.Contains(string(b), secret) || cp.SIN.Plain() != secret {
		t.Errorf("a copy for the holder encodes as %s", b)
	}
}

// TestMaskRecordsPerRecord checks that MaskRecords decides each field for
// the record it belongs to.
func TestMaskRecordsPerRecord(t *testing.T) {
	t.Parallel()
	type Applicant struct {
		SIN masking.SIN `iam:"permits.applicant.sin.view" mask:"sin"`
	}
	type Inspection struct {
		Ward  string
		Notes string `iam:"permits.inspection.notes.view" mask:"redact"`
	}
	type Permit struct {
		ID          string `iam:"key"`
		Ward        string
		Applicant   Applicant // no record of its own: belongs to the permit
		Inspections []Inspection
	}
	isRecord := func(t reflect.Type) bool { _, ok := t.FieldByName("Ward"); return ok }
	eng, err := masking.New(masking.Options{Records: isRecord})
	if err != nil {
		t.Fatal(err)
	}
	sin := mustSIN(t, secret)
	permits := []Permit{
		{ID: "p1", Ward: "3", Applicant: Applicant{sin}, Inspections: []Inspection{{Ward: "3", Notes: "n1"}, {Ward: "4", Notes: "n2"}}},
		{ID: "p2", Ward: "4", Applicant: Applicant{sin}},
		{ID: "p3", Ward: "3", Applicant: Applicant{sin}},
	}
	// The caller works in ward 3 only.
	calls := 0
	may := func(perm string, rec any) bool {
		calls++
		switch r := rec.(type) {
		case Permit:
			return r.Ward == "3"
		case Inspection:
			return r.Ward == "3"
		}
		t.Errorf("decided %s for %T", perm, rec)
		return false
	}
	var views []string
	if err := eng.MaskRecords(&permits, may, func(v masking.View) { views = append(views, v.Key+":"+v.Field) }); err != nil {
		t.Fatal(err)
	}
	if permits[0].Applicant.SIN.Plain() != secret || permits[1].Applicant.SIN.Plain() != "" || permits[2].Applicant.SIN.Plain() != secret {
		t.Errorf("SINs shown: %q %q %q", permits[0].Applicant.SIN.Plain(), permits[1].Applicant.SIN.Plain(), permits[2].Applicant.SIN.Plain())
	}
	if permits[0].Inspections[0].Notes != "n1" || permits[0].Inspections[1].Notes != masking.RedactedMask {
		t.Errorf("inspection notes: %+v", permits[0].Inspections)
	}
	if calls != 5 {
		t.Errorf("may called %d times, want 5 (one per record and permission)", calls)
	}
	if got := strings.Join(views, " "); got != "p1:[0].Applicant.SIN p1:[0].Inspections[0].Notes p3:[2].Applicant.SIN" {
		t.Errorf("views: %s", got)
	}
	// The JSON path decides the same way and shows the digits it may.
	permits[1].Applicant.SIN = sin
	b, err := eng.MarshalRecords(permits, func(_ string, rec any) bool { p, ok := rec.(Permit); return ok && p.ID == "p2" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), secret) != 1 || !strings.Contains(string(b), `"ID":"p2","Ward":"4","Applicant":{"SIN":"`+secret+`"}`) {
		t.Errorf("MarshalRecords: %s", b)
	}
	// A field outside every record is decided with a nil record.
	type loose struct {
		SIN masking.SIN `iam:"permits.applicant.sin.view" mask:"sin"`
	}
	l := loose{sin}
	var got []any
	if err := eng.MaskRecords(&l, func(_ string, rec any) bool { got = append(got, rec); return true }, nil); err != nil || len(got) != 1 || got[0] != nil {
		t.Errorf("loose field: records %v, %v", got, err)
	}
}

// FuzzMaskShapes builds a value graph from the fuzz input (maps with NaN,
// nil and typed-nil keys, slices, pointers, interfaces, cycles back to
// earlier nodes, PII records) and checks that masking it in place, as a
// copy and as JSON never panics and leaves no PII reachable.
func FuzzMaskShapes(f *testing.F) {
	for _, seed := range [][]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{2, 2, 2, 7, 0, 7, 1, 3},
		{5, 5, 5, 5, 8, 0, 9, 1},
		{6, 1, 6, 2, 6, 3, 7, 0, 7, 1},
		{1, 9, 9, 9, 4, 4, 3, 3, 2, 2},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 256 {
			prog = prog[:256]
		}
		nodes := []any{newPII(t)}
		pick := func(b byte) any { return nodes[int(b)%len(nodes)] }
		for i := 0; i < len(prog); i++ {
			op, arg := prog[i]%10, byte(0)
			if i+1 < len(prog) {
				arg = prog[i+1]
			}
			var n any
			switch op {
			case 0:
				n = newPII(t)
			case 1:
				p := newPII(t)
				n = &p
			case 2: // a map keyed by NaN, nil, a typed nil and a value
				n = map[any]any{math.NaN(): pick(arg), nil: newPII(t), (*pii)(nil): pick(arg + 1), "k": (*pii)(nil), float32(math.NaN()): newPII(t)}
			case 3:
				n = []any{pick(arg), nil, newPII(t)}
			case 4:
				n = &node{ID: i, PII: newPII(t), Any: pick(arg)}
			case 5: // a pointer node that points back at itself
				x := &node{ID: i, PII: newPII(t)}
				x.Next, x.Any = x, pick(arg)
				n = x
			case 6: // a map that holds itself
				m := map[string]any{"v": pick(arg)}
				m["self"] = m
				n = m
			case 7: // close a cycle through an earlier node
				switch x := pick(arg).(type) {
				case *node:
					x.Any = nodes[len(nodes)-1]
				case map[string]any:
					x["back"] = nodes[len(nodes)-1]
				case map[any]any:
					x[math.NaN()] = nodes[len(nodes)-1]
				case []any:
					if len(x) > 1 {
						x[1] = nodes[len(nodes)-1]
					}
				}
				continue
			case 8:
				n = map[float64]pii{math.NaN(): newPII(t), math.NaN(): newPII(t), 0: newPII(t)}
			case 9:
				var v any = pick(arg)
				n = &v
			}
			nodes = append(nodes, n)
		}
		root := nodes
		maskAllWays(t, "fuzzed shape", &root)
	})
}
