package rbac

import (
	"hash/maphash"
	"math/bits"
)

// nameIndex maps the names of a Policy's subjects, permissions or scopes to their
// dense indices. It is an open-addressing table built once by Compile and
// never written again, so lookups take no lock. Each slot holds the upper
// half of the name's hash and the index; the name itself is compared in the
// Policy's own array of names, which a check reads next anyway. Slots are 8
// bytes and at most two thirds are used, so a lookup reads about one cache
// line of table — a Go map of the same names reads a directory, a control
// word and a slot, and the difference is most of a warm check's time.
type nameIndex struct {
	seed  maphash.Seed
	mask  uint64
	slots []nameSlot
}

type nameSlot struct {
	tag uint32 // upper half of the name's hash
	idx int32  // -1: empty
}

// newNameIndex indexes n names, name(i) being the name at index i; the
// names must be distinct.
func newNameIndex(n int, name func(i int) string) nameIndex {
	size := max(2, 1<<bits.Len(uint(n+n/2))) // more than 1.5n: a third or more empty
	t := nameIndex{seed: maphash.MakeSeed(), mask: uint64(size - 1), slots: make([]nameSlot, size)}
	for i := range t.slots {
		t.slots[i].idx = -1
	}
	for i := range n {
		h := maphash.String(t.seed, name(i))
		j := h & t.mask
		for t.slots[j].idx >= 0 {
			j = (j + 1) & t.mask
		}
		t.slots[j] = nameSlot{tag: uint32(h >> 32), idx: int32(i)}
	}
	return t
}

// The three lookups below are the same probe; each compares the name in
// the array the check reads next anyway. They are written out because one
// generic lookup (a type switch for the name) made the warm check 10%
// slower, and a copy of the names inside the index 2% slower.

// subject returns the index of subject s, if the policy knows it.
func (p *Policy) subject(s Subject) (int32, bool) {
	t := &p.subjIdx
	h := maphash.String(t.seed, string(s))
	tag := uint32(h >> 32)
	for j := h & t.mask; ; j = (j + 1) & t.mask {
		e := t.slots[j]
		if e.idx < 0 {
			return -1, false
		}
		if e.tag == tag && p.subjects[e.idx].name == s {
			return e.idx, true
		}
	}
}

// permission returns the bit of the exact permission x, if the policy
// knows it.
func (p *Policy) permission(x Permission) (int32, bool) {
	t := &p.permIdx
	h := maphash.String(t.seed, string(x))
	tag := uint32(h >> 32)
	for j := h & t.mask; ; j = (j + 1) & t.mask {
		e := t.slots[j]
		if e.idx < 0 {
			return -1, false
		}
		if e.tag == tag && p.permNames[e.idx] == x {
			return e.idx, true
		}
	}
}

// scope returns the index of scope s, if the policy declares it or grants
// something at it.
func (p *Policy) scope(s Scope) (int32, bool) {
	t := &p.scopeIdx
	h := maphash.String(t.seed, string(s))
	tag := uint32(h >> 32)
	for j := h & t.mask; ; j = (j + 1) & t.mask {
		e := t.slots[j]
		if e.idx < 0 {
			return -1, false
		}
		if e.tag == tag && p.scopes[e.idx].name == s {
			return e.idx, true
		}
	}
}
