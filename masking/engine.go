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
	maskers map[string]Masker // custom masks; read-only after New
	plans   sync.Map          // reflect.Type → *typePlan
	copies  sync.Map          // reflect.Type → *copyPlan
	mu      sync.Mutex        // serializes plan building
	perms   map[string]int    // permission → rule.permID; guarded by mu
}

// New returns an Engine with the custom masks in opts. It fails, with an
// error wrapping [ErrInvalidOptions], on a nil Masker or a name that is
// malformed or taken by a built-in mask.
func New(opts Options) (*Engine, error) {
	e := &Engine{}
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
// value held in an interface is masked as a copy that is set back.
//
// An error (a [*TagError] for a badly tagged type, possibly one found in an
// interface field) may leave v partly masked: do not use v after an error.
func (e *Engine) Mask(v any, may func(perm string) bool, viewed func(View)) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &ValueError{Method: "Mask", Type: typeName(v), Reason: "needs a non-nil pointer"}
	}
	p, err := e.planFor(rv.Type())
	if err != nil || p.op == opSkip {
		return err
	}
	var path [pathDepth]seg
	w := walker{e: e, may: may, viewed: viewed}
	return w.walk(rv, p, path[:0], reflect.Value{})
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
	if v == nil {
		return nil, &ValueError{Method: "MaskCopy", Type: "<nil>", Reason: "needs a value"}
	}
	rv := reflect.ValueOf(v)
	cp := reflect.New(rv.Type()).Elem()
	cp.Set(rv)
	if err := e.maskCopy(cp, may, viewed); err != nil {
		return nil, err
	}
	return cp.Interface(), nil
}

// maskCopy deep-copies and masks cp, a settable value.
func (e *Engine) maskCopy(cp reflect.Value, may func(perm string) bool, viewed func(View)) error {
	p, err := e.planFor(cp.Type())
	if err != nil {
		return err
	}
	c := copier{e: e}
	c.deepen(cp)
	if p.op == opSkip {
		return nil
	}
	var path [pathDepth]seg
	w := walker{e: e, may: may, viewed: viewed}
	return w.walk(cp, p, path[:0], reflect.Value{})
}

// Copy is the typed form of [Engine.MaskCopy]: it returns a masked deep
// copy of v and leaves v untouched. On error it returns the zero T.
func Copy[T any](e *Engine, v T, may func(perm string) bool, viewed func(View)) (T, error) {
	cp := reflect.ValueOf(&v).Elem()
	if err := e.maskCopy(cp, may, viewed); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// Marshal returns the JSON encoding of a masked copy of v, leaving v
// untouched, so a handler can mask a response as it writes it. may and
// viewed are as for [Engine.Mask].
func (e *Engine) Marshal(v any, may func(perm string) bool, viewed func(View)) ([]byte, error) {
	cp, err := e.jsonValue(v, may, viewed)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cp)
}

// Encode writes the JSON encoding of a masked copy of v to enc, leaving v
// untouched. enc keeps its settings (indentation, HTML escaping).
func (e *Engine) Encode(enc *json.Encoder, v any, may func(perm string) bool, viewed func(View)) error {
	cp, err := e.jsonValue(v, may, viewed)
	if err != nil {
		return err
	}
	return enc.Encode(cp)
}

func (e *Engine) jsonValue(v any, may func(perm string) bool, viewed func(View)) (any, error) {
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
	return e.MaskCopy(v, may, viewed)
}

func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return reflect.TypeOf(v).String()
}
