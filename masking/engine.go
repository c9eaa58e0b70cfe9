package masking

import (
	"encoding/json"
	"reflect"
	"strconv"
	"sync"
)

// Options configures an [Engine]. The zero Options means the built-in masks
// only.
type Options struct {
	// Maskers adds masks that the mask tag can name. A name is one or more
	// of [a-z0-9_] and cannot be that of a built-in mask ("sin", "email",
	// "phone", "dob", "postal", "redact"). Custom masks apply to string
	// fields, *string, and slices, arrays and map values of them; never to
	// SIN. New copies the map.
	Maskers map[string]Masker

	// Records says which struct types are records, for the *Records
	// methods ([Engine.MaskRecords] and its kin): each masked field is
	// decided for the nearest enclosing record, which the decision callback
	// receives. It is called once per struct type, when the type's plan is
	// built. nil means the struct types that have an iam:"key" field.
	Records func(t reflect.Type) bool
}

// View reports that a caller was shown an unmasked PII field because it
// holds the field's permission. The Engine passes it to the viewed callback
// so the caller can record the access; the Engine records nothing itself.
type View struct {
	Permission string // the permission that unmasked the field, "crm.citizen.sin.view"
	Field      string // path from the masked value, "Contacts[2].Email"; map keys as ["home"]
	Key        string // the nearest enclosing iam:"key" field, "" if none
}

// Engine masks struct fields according to their tags. It caches one plan
// per type, so after the first call for a type, masking does no reflection
// discovery; see the package documentation for the tags.
//
// An Engine is safe for concurrent use. The zero Engine is ready to use
// with the built-in masks; use [New] to add custom ones. An Engine must not
// be copied after first use.
type Engine struct {
	maskers map[string]Masker       // custom masks; read-only after New
	records func(reflect.Type) bool // Options.Records; read-only after New
	plans   sync.Map                // reflect.Type → *typePlan
	copies  sync.Map                // reflect.Type → *copyPlan
	mu      sync.Mutex              // serializes plan building
	perms   map[string]int          // permission → rule.permID; guarded by mu
}

// New returns an Engine with the custom masks in opts. It fails, with an
// error wrapping [ErrInvalidOptions], on a nil Masker or a name that is
// malformed or taken by a built-in mask.
func New(opts Options) (*Engine, error) {
	e := &Engine{records: opts.Records}
	if len(opts.Maskers) > 0 {
		e.maskers = make(map[string]Masker, len(opts.Maskers))
	}
	for name, m := range opts.Maskers {
		switch _, taken := builtin(name); {
		case !validName(name):
			return nil, &optionsError{"masker name " + quote(name) + " is not made of [a-z0-9_]"}
		case taken:
			return nil, &optionsError{"masker name " + quote(name) + " is a built-in mask"}
		case m == nil:
			return nil, &optionsError{"masker " + quote(name) + " is nil"}
		}
		e.maskers[name] = m
	}
	return e, nil
}

// optionsError explains an ErrInvalidOptions.
type optionsError struct{ reason string }

// Error implements the error interface.
func (e *optionsError) Error() string        { return "masking: invalid options: " + e.reason }
func (e *optionsError) Is(target error) bool { return target == ErrInvalidOptions }

func quote(s string) string { return strconv.Quote(s) }

// Prepare builds and caches the plan for the type of v, without masking
// anything, and returns any [*TagError]. Call it at start-up or in a test
// for each type a service masks, so a bad tag fails early. Types reached
// only through interface fields are planned when first met.
func (e *Engine) Prepare(v any) error {
	if v == nil {
		return &ValueError{Method: "Prepare", Type: "<nil>", Reason: "needs a value"}
	}
	_, err := e.planFor(reflect.TypeOf(v))
	return err
}

// Mask masks v in place. v must be a non-nil pointer; anything else is a
// [*ValueError].
//
// For each tagged field, Mask asks may whether the caller holds the field's
// permission. A field whose permission is held is left as it is and, if it
// is PII, reported to viewed; every other tagged field is masked. A nil may
// holds nothing, so everything is masked; viewed may be nil. may must give
// the same answer for the same permission throughout a call: Mask remembers
// answers, so an expensive may is called about once per permission.
//
// Mask follows pointers, slices, arrays, maps and interfaces, visiting each
// pointer once (so cycles end). A *string field is masked by pointing it at
// a new string, never by writing through the pointer. A map value or a
// value held in an interface is masked as a copy that is set back; a map
// whose keys can be NaN is refilled instead, so each entry is masked once
// and none is left beside its masked copy.
//
// An error (a [*TagError] for a badly tagged type, possibly one found in an
// interface field, or a [*ValueError] for a value nested more than
// [MaxDepth] levels) may leave v partly masked: do not use v after an
// error. The part of v the error concerns is cleared rather than left
// unmasked.
func (e *Engine) Mask(v any, may func(perm string) bool, viewed func(View)) error {
	return e.mask(v, walker{e: e, method: "Mask", may: may, viewed: viewed})
}

// MaskRecords is [Engine.Mask] deciding each field for its record: may
// receives, with the permission, the nearest enclosing record of the field
// (a value of a struct type that [Options.Records] names, copied as it was
// before any of its fields was masked), or nil for a field in no record.
// Fields of an embedded struct belong to the enclosing record. Answers are
// remembered per record, so may is called about once per permission and
// record.
func (e *Engine) MaskRecords(v any, may func(perm string, rec any) bool, viewed func(View)) error {
	return e.mask(v, walker{e: e, method: "MaskRecords", mayRec: may, viewed: viewed})
}

func (e *Engine) mask(v any, w walker) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &ValueError{Method: w.method, Type: typeName(v), Reason: "needs a non-nil pointer"}
	}
	p, err := e.planFor(rv.Type())
	if err != nil || p.op == opSkip {
		return err
	}
	return w.run(rv, p)
}

// MaskCopy returns a masked deep copy of v, of the same type as v, and
// leaves v untouched. v may be a pointer (the copy is a new pointer to a
// copy), a struct, a slice, a map or any other value. may and viewed are as
// for [Engine.Mask].
//
// The copy shares nothing reachable through exported fields with v; values
// in unexported fields are copied shallowly, since the Engine neither reads
// nor changes them.
func (e *Engine) MaskCopy(v any, may func(perm string) bool, viewed func(View)) (any, error) {
	return e.copyAny(v, walker{e: e, method: "MaskCopy", may: may, viewed: viewed})
}

// MaskCopyRecords is [Engine.MaskCopy] deciding each field for its record,
// as [Engine.MaskRecords] does.
func (e *Engine) MaskCopyRecords(v any, may func(perm string, rec any) bool, viewed func(View)) (any, error) {
	return e.copyAny(v, walker{e: e, method: "MaskCopyRecords", mayRec: may, viewed: viewed})
}

func (e *Engine) copyAny(v any, w walker) (any, error) {
	if v == nil {
		return nil, &ValueError{Method: w.method, Type: "<nil>", Reason: "needs a value"}
	}
	rv := reflect.ValueOf(v)
	cp := reflect.New(rv.Type()).Elem()
	cp.Set(rv)
	if err := e.maskCopy(cp, w); err != nil {
		return nil, err
	}
	return cp.Interface(), nil
}

// maskCopy deep-copies and masks cp, a settable value.
func (e *Engine) maskCopy(cp reflect.Value, w walker) error {
	p, err := e.planFor(cp.Type())
	if err != nil {
		return err
	}
	c := copier{e: e}
	c.deepen(cp)
	if c.err != nil {
		return c.err
	}
	if p.op == opSkip {
		return nil
	}
	return w.run(cp, p)
}

// Copy is the typed form of [Engine.MaskCopy]: it returns a masked deep
// copy of v and leaves v untouched. On error it returns the zero T.
func Copy[T any](e *Engine, v T, may func(perm string) bool, viewed func(View)) (T, error) {
	cp := reflect.ValueOf(&v).Elem()
	if err := e.maskCopy(cp, walker{e: e, method: "MaskCopy", may: may, viewed: viewed}); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// Marshal returns the JSON encoding of a masked copy of v, leaving v
// untouched, so a handler can mask a response as it writes it. may and
// viewed are as for [Engine.Mask].
//
// A tagged [SIN] (or [SINColumn]) field that the caller may see is written
// as its nine digits, "046454286": Marshal is how an authorized viewer gets
// the digits into a response. Everywhere else, including json.Marshal of the
// same value and SIN fields that have no tag, a SIN encodes as the mask.
func (e *Engine) Marshal(v any, may func(perm string) bool, viewed func(View)) ([]byte, error) {
	return e.marshal(v, walker{e: e, method: "Marshal", may: may, viewed: viewed})
}

// MarshalRecords is [Engine.Marshal] deciding each field for its record,
// as [Engine.MaskRecords] does.
func (e *Engine) MarshalRecords(v any, may func(perm string, rec any) bool, viewed func(View)) ([]byte, error) {
	return e.marshal(v, walker{e: e, method: "MarshalRecords", mayRec: may, viewed: viewed})
}

func (e *Engine) marshal(v any, w walker) ([]byte, error) {
	cp, err := e.jsonValue(v, w)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cp)
}

// Encode writes the JSON encoding of a masked copy of v to enc, leaving v
// untouched, as [Engine.Marshal] encodes it. enc keeps its settings
// (indentation, HTML escaping).
func (e *Engine) Encode(enc *json.Encoder, v any, may func(perm string) bool, viewed func(View)) error {
	cp, err := e.jsonValue(v, walker{e: e, method: "Encode", may: may, viewed: viewed})
	if err != nil {
		return err
	}
	return enc.Encode(cp)
}

// jsonValue returns the value to encode for v: a private masked copy whose
// SINs the caller may see are marked to encode as digits. The copy never
// leaves the Engine.
func (e *Engine) jsonValue(v any, w walker) (any, error) {
	if v == nil {
		return nil, nil
	}
	p, err := e.planFor(reflect.TypeOf(v))
	if err != nil {
		return nil, err
	}
	if p.op == opSkip {
		return v, nil // nothing to mask: encode as is
	}
	w.reveal = true
	return e.copyAny(v, w)
}

func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return reflect.TypeOf(v).String()
}
