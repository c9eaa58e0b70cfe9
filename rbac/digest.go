package rbac

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"maps"
	"slices"
	"time"
)

// Digest returns a SHA-256 digest of everything m says, independent of the
// order of its lists and of duplicate entries: two models with the same
// digest grant, deny, label, waive and quarantine exactly the same things,
// and agree on [Model.ImplicitScopes]. Processes use
// it to tell whether two copies of a policy (for example a local fallback
// copy and the store's) hold the same content.
func (m Model) Digest() [sha256.Size]byte {
	var d digester
	d.section("permissions", len(m.Permissions), func(i int, e *enc) { e.str(string(m.Permissions[i])) })
	d.section("scopes", len(m.Scopes), func(i int, e *enc) { e.str(string(m.Scopes[i].Scope)); e.str(string(m.Scopes[i].Parent)) })
	d.section("roles", len(m.Roles), func(i int, e *enc) {
		r := m.Roles[i]
		e.str(string(r.ID))
		e.set(len(r.Inherits), func(j int, e *enc) { e.str(string(r.Inherits[j])) })
		e.bool(r.Composite)
		e.bool(r.Emergency)
		e.set(len(r.Permissions), func(j int, e *enc) { e.str(string(r.Permissions[j])) })
		e.set(len(r.Deny), func(j int, e *enc) { e.str(string(r.Deny[j])) })
		langs := slices.Sorted(maps.Keys(r.Labels))
		e.num(int64(len(langs)))
		for _, l := range langs {
			e.str(l)
			e.str(r.Labels[l])
		}
	})
	d.section("members", len(m.Members), func(i int, e *enc) { e.str(string(m.Members[i].Member)); e.str(string(m.Members[i].Group)) })
	d.section("grants", len(m.Grants), func(i int, e *enc) {
		g := m.Grants[i]
		e.str(string(g.Subject))
		e.str(string(g.Role))
		e.str(string(g.Scope))
		e.time(g.NotBefore)
		e.time(g.NotAfter)
		e.str(g.Reason)
	})
	d.section("conflicts", len(m.Conflicts), func(i int, e *enc) {
		r := m.Conflicts[i]
		e.str(r.ID)
		e.str(r.Description)
		e.str(string(r.Roles[0]))
		e.str(string(r.Roles[1]))
		e.str(string(r.Permissions[0]))
		e.str(string(r.Permissions[1]))
	})
	d.section("waivers", len(m.Waivers), func(i int, e *enc) {
		w := m.Waivers[i]
		e.str(w.Rule)
		e.str(string(w.Subject))
		e.str(string(w.ApprovedBy))
		e.str(w.Reason)
		e.time(w.NotBefore)
		e.time(w.NotAfter)
	})
	// The quarantine changes decisions (a blocked subject is denied
	// everything), and ImplicitScopes what a change may grant.
	d.section("quarantine", len(m.Quarantine), func(i int, e *enc) {
		q := m.Quarantine[i]
		e.num(q.ID)
		e.str(q.PType)
		e.num(int64(len(q.Values)))
		for _, v := range q.Values {
			e.str(v) // positional: not a set
		}
		e.str(q.Reason)
		e.set(len(q.Blocks), func(j int, e *enc) { e.str(string(q.Blocks[j])) })
	})
	d.section("implicit scopes", 1, func(_ int, e *enc) { e.bool(m.ImplicitScopes) })
	return [sha256.Size]byte(d.h.Sum(nil))
}

// digester hashes sections of length-prefixed, sorted, de-duplicated items.
type digester struct{ h hash.Hash }

func (d *digester) section(name string, n int, item func(int, *enc)) {
	if d.h == nil {
		d.h = sha256.New()
	}
	var e enc
	e.str(name)
	e.set(n, item)
	d.h.Write(e.b)
}

// enc is a length-prefixed encoding: no two different item sequences encode
// to the same bytes.
type enc struct{ b []byte }

func (e *enc) num(v int64) { e.b = binary.BigEndian.AppendUint64(e.b, uint64(v)) }

func (e *enc) str(s string) {
	e.num(int64(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// time encodes an instant exactly (seconds and nanoseconds, in UTC); the
// zero time, which means "open", encodes differently from every instant.
func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.bool(false)
		return
	}
	e.bool(true)
	e.num(t.Unix())
	e.num(int64(t.Nanosecond()))
}

// set encodes n items as an unordered set: each item is encoded on its own,
// then the encodings are sorted and duplicates dropped.
func (e *enc) set(n int, item func(int, *enc)) {
	items := make([]string, 0, n)
	for i := range n {
		var x enc
		item(i, &x)
		items = append(items, string(x.b))
	}
	slices.Sort(items)
	items = slices.Compact(items)
	e.num(int64(len(items)))
	for _, it := range items {
		e.str(it)
	}
}
