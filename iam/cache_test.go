package iam

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/fixtures"
	"github.com/civic-platform/security/rbac"
)

// modelSource serves one model at revision 1.
type modelSource struct{ m rbac.Model }

func (s modelSource) LoadPolicy(context.Context) (rbac.Model, int64, error) { return s.m, 1, nil }

func hashInt(seed maphash.Seed, k int) uint64 { return maphash.String(seed, fmt.Sprint(k)) }

// TestLRUCacheBounded checks that the sharded cache never holds more than
// its size rounded up to whole shards, evicts rather than grows, keeps what
// was added last, and that a nil cache (caching off) holds nothing.
func TestLRUCacheBounded(t *testing.T) {
	t.Parallel()
	if c := newLRUCache[int, int](0, hashInt); c != nil {
		t.Fatal("size 0 must turn the cache off")
	}
	var off *lruCache[int, int]
	off.Add(1, 1)
	if _, ok := off.Get(1); ok {
		t.Fatal("a nil cache returned an entry")
	}
	for _, size := range []int{1, 5, 100, 1000} {
		c := newLRUCache[int, int](size, hashInt)
		limit := max(1, (size+cacheShards-1)/cacheShards) * cacheShards
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for k := range 5000 {
					c.Add(g*5000+k, k)
					// Another goroutine may have evicted it since; never a
					// wrong value.
					if v, ok := c.Get(g*5000 + k); ok && v != k {
						t.Errorf("size %d: entry %d holds %d", size, g*5000+k, v)
						return
					}
				}
			})
		}
		wg.Wait()
		c.Add(-1, 7)
		if v, ok := c.Get(-1); !ok || v != 7 {
			t.Errorf("size %d: the entry just added is %d, %v", size, v, ok)
		}
		n := 0
		for _, s := range c.shards {
			n += s.Len()
		}
		if n > limit || n == 0 {
			t.Errorf("size %d: holds %d entries, limit %d", size, n, limit)
		}
	}
}

// TestFilterCacheBoundedAndCorrect runs the same filters through a tiny
// cache that evicts constantly, a large one, and none, from several
// goroutines, and requires the same filters.
func TestFilterCacheBoundedAndCorrect(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := fixtures.City(fixtures.Config{Seed: 7, Users: 2_000, At: at})
	reqs := fixtures.RequestsAt(m, 3, 2_000, at)
	clock := WithClock(func() time.Time { return at })
	ctx := context.Background()
	ref, err := New(ctx, modelSource{m}, clock, WithSubjectCache(0))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	refSc, err := NewScoper(DataScopes{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(reqs))
	some := 0
	for i, r := range reqs {
		f, err := ref.Filter(ctx, r.Subject, r.Permission, refSc)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = f.String()
		if !f.MatchesNone() {
			some++
		}
	}
	if some == 0 || some == len(reqs) {
		t.Fatalf("%d of %d filters admit something: the mix must hold both", some, len(reqs))
	}
	for _, size := range []int{1, 5, 100_000} {
		a, err := New(ctx, modelSource{m}, clock, WithSubjectCache(size))
		if err != nil {
			t.Fatal(err)
		}
		sc, err := NewScoper(DataScopes{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for k := range 2 * len(reqs) {
					i := (k*7 + g*1013) % len(reqs)
					r := reqs[i]
					f, err := a.Filter(ctx, r.Subject, r.Permission, sc)
					if err != nil || f.String() != want[i] {
						t.Errorf("cache %d: %s %s = %s, %v; without a cache %s", size, r.Subject, r.Permission, f, err, want[i])
						return
					}
				}
			})
		}
		wg.Wait()
		a.Close()
	}
}

// TestCheckFollowsGrantWindows checks that a decision changes at the
// instant a grant starts or ends, in both directions of the clock.
func TestCheckFollowsGrantWindows(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := rbac.Model{
		Roles: []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"bylaw.case.read"}}},
		Grants: []rbac.Grant{
			{Subject: "user:a", Role: "clerk", Scope: "org", NotBefore: at, NotAfter: at.Add(time.Minute)},
		},
	}
	var mu sync.Mutex
	now := at.Add(-time.Second)
	a, err := New(context.Background(), modelSource{m}, WithClock(func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, step := range []struct {
		at   time.Time
		want bool
	}{
		{at.Add(-time.Second), false}, {at.Add(-time.Nanosecond), false}, {at, true}, {at.Add(30 * time.Second), true},
		{at.Add(time.Minute), false}, {at.Add(10 * time.Second), true}, {at.Add(-time.Hour), false},
	} {
		mu.Lock()
		now = step.at
		mu.Unlock()
		d, err := a.Check(context.Background(), "user:a", "bylaw.case.read", "org")
		if err != nil || d.Allowed != step.want {
			t.Fatalf("at %v: %+v, %v; want allowed=%v", step.at, d, err, step.want)
		}
	}
}
