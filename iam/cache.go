package iam

import (
	"hash/maphash"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/civic-platform/security/rbac"
)

// subjectCache is a set of golang-lru caches sharded by subject, so that
// concurrent checks for different subjects rarely meet on one lock
// (lru.Cache.Get takes a write lock to update recency).
type subjectCache struct {
	seed   maphash.Seed
	shards []*lru.Cache[rbac.Subject, *rbac.Perms]
}

const cacheShards = 32

func newSubjectCache(size int) *subjectCache {
	per := max(1, (size+cacheShards-1)/cacheShards)
	c := &subjectCache{seed: maphash.MakeSeed(), shards: make([]*lru.Cache[rbac.Subject, *rbac.Perms], cacheShards)}
	for i := range c.shards {
		c.shards[i], _ = lru.New[rbac.Subject, *rbac.Perms](per) // per > 0: cannot fail
	}
	return c
}

func (c *subjectCache) shard(s rbac.Subject) *lru.Cache[rbac.Subject, *rbac.Perms] {
	return c.shards[maphash.String(c.seed, string(s))%cacheShards]
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
