package iam

import (
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/civic-platform/security/rbac"
)

// subjectCache is a set of golang-lru caches sharded by subject, so that
// concurrent checks for different subjects rarely meet on one lock
// (lru.Cache.Get takes a write lock to update recency).
type subjectCache struct {
	shards []*lru.Cache[rbac.Subject, *rbac.Perms]
}

const cacheShards = 32

func newSubjectCache(size int) *subjectCache {
	per := max(1, (size+cacheShards-1)/cacheShards)
	c := &subjectCache{shards: make([]*lru.Cache[rbac.Subject, *rbac.Perms], cacheShards)}
	for i := range c.shards {
		c.shards[i], _ = lru.New[rbac.Subject, *rbac.Perms](per) // per > 0: cannot fail
	}
	return c
}

// shard picks a shard from the subject's length and last bytes, where ids
// differ; it only spreads lock traffic, so it need not resist collisions.
func (c *subjectCache) shard(s rbac.Subject) *lru.Cache[rbac.Subject, *rbac.Perms] {
	h := uint32(len(s))
	for i := len(s) - 1; i >= 0 && i >= len(s)-8; i-- {
		h = h*31 + uint32(s[i])
	}
	return c.shards[h%cacheShards]
}

// perms returns sub's effective grants at instant at (Unix ns), from the
// cache when an entry is still true at that instant.
func (s *snapshot) perms(sub rbac.Subject, at int64) *rbac.Perms {
	sh := s.cache.shard(sub)
	if ps, ok := sh.Get(sub); ok && ps.ValidAt(at) {
		return ps
	}
	ps := s.policy.Effective(sub, at)
	sh.Add(sub, &ps)
	return &ps
}
