package iam

import (
	"hash/maphash"

	lru "github.com/hashicorp/golang-lru/v2"
)

// lruCache is the one cache mechanism of a policy snapshot: a set of
// golang-lru caches sharded by key, so that concurrent calls for different
// keys rarely meet on one lock (lru.Cache.Get takes a write lock to update
// recency). A snapshot keeps what is costly to work out and asked again
// while the policy stays the same: what a subject's grants mean for a
// permission under a Scoper (Filter and CheckRecord), and the paths
// recorded for checks made under emergency access. Checks themselves are
// answered from the compiled policy's indexes: a cache in front of them
// measured no faster (BENCHMARKS.md, "Caches").
//
// A reload drops the snapshot and its caches together, so there is
// nothing to invalidate; an entry that depends on the clock says until
// when it holds, and its user checks that.
type lruCache[K comparable, V any] struct {
	seed   maphash.Seed
	hash   func(maphash.Seed, K) uint64
	shards [cacheShards]*lru.Cache[K, V]
}

const cacheShards = 32

// newLRUCache returns a cache of about size entries in all, or nil when
// size <= 0 (caching off). hash hashes a key with the seed it is given; it
// must not allocate, since it runs on every Get.
func newLRUCache[K comparable, V any](size int, hash func(maphash.Seed, K) uint64) *lruCache[K, V] {
	if size <= 0 {
		return nil
	}
	per := max(1, (size+cacheShards-1)/cacheShards)
	c := &lruCache[K, V]{seed: maphash.MakeSeed(), hash: hash}
	for i := range c.shards {
		c.shards[i], _ = lru.New[K, V](per) // per > 0: cannot fail
	}
	return c
}

func (c *lruCache[K, V]) shard(k K) *lru.Cache[K, V] {
	return c.shards[c.hash(c.seed, k)%cacheShards]
}

// Get returns the value cached for k. A nil cache holds nothing.
func (c *lruCache[K, V]) Get(k K) (v V, ok bool) {
	if c == nil {
		return v, false
	}
	return c.shard(k).Get(k)
}

// Add caches v for k, evicting the least recently used entry of k's shard
// when it is full. Adding to a nil cache does nothing.
func (c *lruCache[K, V]) Add(k K, v V) {
	if c != nil {
		c.shard(k).Add(k, v)
	}
}
