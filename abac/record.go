package abac

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
)

// A Record is one record as [Filter.Match] sees it. Field returns the value
// of a logical field and whether the record has it; a field it does not
// have is treated as NULL, like a nil value or a nil pointer.
//
// Values are read as described in the package documentation: strings,
// integers, pointers to them, and database/sql/driver.Valuer types such as
// sql.NullString and sql.NullInt64 (a Valuer returning nil is NULL). Any
// other value, such as the float64 that encoding/json gives for every
// number, is not NULL but equals nothing: convert JSON numbers to int64
// before matching.
type Record interface {
	Field(name string) (value any, ok bool)
}

// Map is a [Record] held in a map from logical field name to value.
type Map map[string]any

// Field implements [Record].
func (m Map) Field(name string) (any, bool) {
	v, ok := m[name]
	return v, ok
}

// Tagged reads structs whose fields carry an abac tag as [Record] values:
//
//	type Case struct {
//		ID     int64   `abac:"id"`
//		Ward   int64   `abac:"ward"`
//		Status string  `abac:"status"`
//		Owner  *string `abac:"owner"` // nil is NULL
//		Notes  string  // not visible to rules
//	}
//
// Untagged fields and fields tagged "-" are not visible; fields of embedded
// structs are visible through them. Tagged caches what it learns about each
// struct type. The zero Tagged is ready to use and is safe for concurrent
// use; keep one for the life of the process rather than one per call, and do
// not copy it after first use.
type Tagged struct {
	plans sync.Map // reflect.Type -> *plan
}

type plan struct {
	fields map[string][]int // logical name -> field index path
	err    error
}

var errNotStruct = errors.New("abac: record is not a struct or a non-nil pointer to one")

// Record returns v, a struct or a non-nil pointer to a struct, as a Record.
// It fails if v is neither, if two fields carry the same tag, or if a
// tagged field is unexported.
func (t *Tagged) Record(v any) (Record, error) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, fmt.Errorf("%w: nil %T", errNotStruct, v)
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: %T", errNotStruct, v)
	}
	p := t.plan(rv.Type())
	if p.err != nil {
		return nil, p.err
	}
	return structRecord{p: p, v: rv}, nil
}

func (t *Tagged) plan(typ reflect.Type) *plan {
	if p, ok := t.plans.Load(typ); ok {
		return p.(*plan)
	}
	p := buildPlan(typ)
	actual, _ := t.plans.LoadOrStore(typ, p)
	return actual.(*plan)
}

func buildPlan(typ reflect.Type) *plan {
	p := &plan{fields: make(map[string][]int)}
	for _, sf := range reflect.VisibleFields(typ) {
		name, ok := sf.Tag.Lookup("abac")
		if !ok || name == "-" || name == "" {
			continue
		}
		if !sf.IsExported() {
			p.err = fmt.Errorf("abac: %s.%s is tagged %q but unexported", typ, sf.Name, name)
			return p
		}
		if _, dup := p.fields[name]; dup {
			p.err = fmt.Errorf("abac: %s has two fields tagged %q", typ, name)
			return p
		}
		p.fields[name] = sf.Index
	}
	return p
}

type structRecord struct {
	p *plan
	v reflect.Value
}

func (r structRecord) Field(name string) (any, bool) {
	idx, ok := r.p.fields[name]
	if !ok {
		return nil, false
	}
	fv, err := r.v.FieldByIndexErr(idx)
	if err != nil { // through a nil embedded pointer
		return nil, true
	}
	return fv.Interface(), true
}
