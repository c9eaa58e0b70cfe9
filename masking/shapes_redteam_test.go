package masking_test

import (
	"testing"

	"github.com/civic-platform/security/masking"
)

// Embedded is embedded by value and by pointer in holders below.
type Embedded struct {
	Email string      `mask:"redact"`
	SIN   masking.SIN `mask:"sin"`
}

type embedsPtr struct {
	*Embedded
	Other string
}

type embedsVal struct {
	Embedded
	Inner struct{ pii }
}

// TestMaskContainerShapes masks PII held in every container shape: inside
// interfaces, arrays, embedded structs (by value and by pointer),
// pointer-to-pointer chains, maps of interfaces, channels of nothing, and
// combinations, through Mask, MaskCopy and Marshal.
func TestMaskContainerShapes(t *testing.T) {
	t.Parallel()
	p := newPII(t)
	pp := &p
	e := Embedded{Email: "jane " + secret, SIN: mustSIN(t, secret)}
	cases := map[string]func() any{
		"pii in an interface":                 func() any { var v any = newPII(t); return &v },
		"pointer to pii in an interface":      func() any { var v any = &[]pii{newPII(t)}; return &v },
		"array of pii":                        func() any { return &[3]pii{newPII(t), newPII(t), newPII(t)} },
		"array of interfaces":                 func() any { return &[2]any{newPII(t), &[1]pii{newPII(t)}} },
		"embedded by value":                   func() any { return &embedsVal{Embedded: e, Inner: struct{ pii }{newPII(t)}} },
		"embedded by pointer":                 func() any { c := e; return &embedsPtr{Embedded: &c} },
		"embedded by pointer in an interface": func() any { c := e; var v any = embedsPtr{Embedded: &c}; return &v },
		"pointer to pointer to pii":           func() any { c := newPII(t); q := &c; return &q },
		"pointer to pointer in interface":     func() any { c := newPII(t); q := &c; var v any = &q; return &v },
		"map of interfaces": func() any {
			return &map[string]any{"a": newPII(t), "b": []any{newPII(t)}, "c": map[int]any{1: newPII(t)}}
		},
		"map with pii keys":                 func() any { return &map[pii]int{newPII(t): 1} },
		"map with array keys":               func() any { return &map[[1]pii]any{{newPII(t)}: newPII(t)} },
		"interface holding interface slice": func() any { var v any = []any{[]any{map[string]pii{"x": newPII(t)}}}; return &v },
		"struct holding any holding **pii":  func() any { c := newPII(t); q := &c; return &struct{ A any }{&q} },
		"shared pointer twice":              func() any { return &[]*pii{pp, pp} },
	}
	for name, mk := range cases {
		maskAllWays(t, name, mk())
	}
}
