package iam

import (
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/civic-platform/security/rbac"
)

// subjectCache holds subjects' effective grants for one snapshot.
//
// A golang-lru cache owns the entries: it bounds how many there are and
// chooses which to evict. Its key is the subject's index in the snapshot's
// compiled policy (rbac.Policy.SubjectIndex), a plain integer rather than
// the subject's name, so two spellings can never meet on one entry. Checks
// read entries through slots, an array indexed the same way, with one
// atomic load and no lock: golang-lru takes a write lock on every Get to
// move the entry to the front, which on the hot path costs more than the
// decision itself. Recency is kept up to date by promoting an entry in the
// LRU at most once per promoteEvery of clock time, however often it is hit.
//
// An entry leaves slots when the LRU evicts it, and is replaced when it
// stops being true (rbac.Perms.ValidAt). Slots and the LRU agree because a
// slot is only filled under its stripe of fill, by the goroutine that then
// adds the same entry to the LRU before letting go; an eviction clears the
// slot only if it still holds the evicted entry.
type subjectCache struct {
	slots []atomic.Pointer[cacheEntry]
	lru   *lru.Cache[int32, *cacheEntry]
	fill  [64]sync.Mutex // by subject index: misses for one subject queue up
}

type cacheEntry struct {
	// promoted is when (Unix ns) the entry was last moved to the front of
	// the LRU. It comes first so that a hit on a subject with one or two
	// grants in force reads one cache line.
	promoted atomic.Int64
	perms    rbac.Perms
}

// promoteEvery is how stale an entry's place in the LRU order may get: a
// hit moves the entry to the front only if it has not been moved for this
// long (Unix ns of the Authorizer's clock).
const promoteEvery = int64(250e6)

// newSubjectCache returns a cache of at most size entries for a policy
// that knows subjects subjects.
func newSubjectCache(size, subjects int) *subjectCache {
	c := &subjectCache{slots: make([]atomic.Pointer[cacheEntry], subjects)}
	c.lru, _ = lru.NewWithEvict(max(1, size), func(i int32, e *cacheEntry) { // size > 0: cannot fail
		c.slots[i].CompareAndSwap(e, nil)
	})
	return c
}

// unknownSubject is the Perms of a subject the policy does not know.
var unknownSubject rbac.Perms

// perms returns sub's effective grants at instant at (Unix ns), from the
// cache when an entry is still true at that instant. The result is shared
// and must not be modified.
func (s *snapshot) perms(sub rbac.Subject, at int64) *rbac.Perms {
	i, ok := s.policy.SubjectIndex(sub)
	if !ok {
		return &unknownSubject // holds nothing: nothing to cache
	}
	c := s.cache
	slot := &c.slots[i]
	old := slot.Load()
	if old != nil && old.perms.ValidAt(at) {
		if p := old.promoted.Load(); at-p >= promoteEvery || at < p {
			old.promoted.Store(at)
			c.lru.Get(int32(i))
		}
		return &old.perms
	}
	mu := &c.fill[i%len(c.fill)]
	mu.Lock()
	defer mu.Unlock()
	if cur := slot.Load(); cur != nil && cur.perms.ValidAt(at) {
		return &cur.perms // filled while this check waited
	}
	e := &cacheEntry{perms: s.policy.EffectiveIndex(i, at)}
	e.promoted.Store(at)
	slot.Store(e)
	c.lru.Add(int32(i), e)
	return &e.perms
}
