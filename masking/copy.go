package masking

import (
	"reflect"
	"strconv"
)

// copyPlan says which parts of a type hold references that a deep copy
// must replace.
type copyPlan struct {
	refs   bool  // the type holds a pointer, slice, map or interface
	fields []int // struct: indexes of fields to deep-copy
}

// copyPlanFor returns the cached copy plan for t.
func (e *Engine) copyPlanFor(t reflect.Type) *copyPlan {
	if p, ok := e.copies.Load(t); ok {
		return p.(*copyPlan)
	}
	p := &copyPlan{}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		p.refs = true
	case reflect.Array:
		p.refs = t.Len() > 0 && e.copyPlanFor(t.Elem()).refs
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !(f.Anonymous && f.Type.Kind() == reflect.Struct) {
				continue // shared with the original: it cannot be set
			}
			if e.copyPlanFor(f.Type).refs {
				p.fields = append(p.fields, i)
			}
		}
		p.refs = len(p.fields) > 0
	}
	v, _ := e.copies.LoadOrStore(t, p)
	return v.(*copyPlan)
}

// copier makes deep copies, keeping the shape of shared and cyclic
// references.
type copier struct {
	e     *Engine
	memo  map[seenKey]reflect.Value // original reference → its copy
	depth int
	err   error // a *ValueError: the value was nested deeper than MaxDepth
}

// deepen takes v, a settable shallow copy of some value, and replaces every
// pointer, slice, map and interface it reaches through exported fields with
// a copy, so that changing v cannot change the original. Unexported fields
// stay shared: they cannot be set, and the Engine never changes them.
func (c *copier) deepen(v reflect.Value) {
	if c.depth >= MaxDepth {
		// Cut the copy here: what lies deeper is not copied, so it is not
		// shared with the original either.
		v.SetZero()
		if c.err == nil {
			c.err = &ValueError{Method: "MaskCopy", Type: v.Type().String(), Reason: "the value is nested more than " + strconv.Itoa(MaxDepth) + " levels deep"}
		}
		return
	}
	c.depth++
	c.deepen1(v)
	c.depth--
}

func (c *copier) deepen1(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		k := seenKey{ptr: v.Pointer(), typ: v.Type()}
		if nv, ok := c.memo[k]; ok {
			v.Set(nv)
			return
		}
		nv := reflect.New(v.Type().Elem())
		c.remember(k, nv)
		nv.Elem().Set(v.Elem())
		c.deepen(nv.Elem())
		v.Set(nv)
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		k := seenKey{ptr: v.Pointer(), n: v.Len(), typ: v.Type()}
		if nv, ok := c.memo[k]; ok {
			v.Set(nv)
			return
		}
		nv := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		c.remember(k, nv)
		reflect.Copy(nv, v)
		if c.e.copyPlanFor(v.Type().Elem()).refs {
			for i := range nv.Len() {
				c.deepen(nv.Index(i))
			}
		}
		v.Set(nv)
	case reflect.Array:
		if c.e.copyPlanFor(v.Type().Elem()).refs {
			for i := range v.Len() {
				c.deepen(v.Index(i))
			}
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		k := seenKey{ptr: v.Pointer(), typ: v.Type()}
		if nv, ok := c.memo[k]; ok {
			v.Set(nv)
			return
		}
		t := v.Type()
		nv := reflect.MakeMapWithSize(t, v.Len())
		c.remember(k, nv)
		refs, krefs := c.e.copyPlanFor(t.Elem()).refs, c.e.copyPlanFor(t.Key()).refs
		mk, mv := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		for it := v.MapRange(); it.Next(); {
			mk.SetIterKey(it)
			mv.SetIterValue(it)
			if krefs {
				c.deepen(mk) // equal keys copy to equal keys: the memo keeps one copy per reference
			}
			if refs {
				c.deepen(mv)
			}
			nv.SetMapIndex(mk, mv)
		}
		v.Set(nv)
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := v.Elem()
		if !c.e.copyPlanFor(e.Type()).refs {
			return // a value in an interface cannot be changed in place
		}
		nv := reflect.New(e.Type()).Elem()
		nv.Set(e)
		c.deepen(nv)
		v.Set(nv)
	case reflect.Struct:
		for _, i := range c.e.copyPlanFor(v.Type()).fields {
			c.deepen(v.Field(i))
		}
	}
}

func (c *copier) remember(k seenKey, v reflect.Value) {
	if c.memo == nil {
		c.memo = make(map[seenKey]reflect.Value)
	}
	c.memo[k] = v
}
