package iam

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/fixtures"
	"github.com/civic-platform/security/rbac"
)

// modelSource serves one model at revision 1.
type modelSource struct{ m rbac.Model }

func (s modelSource) LoadPolicy(context.Context) (rbac.Model, int64, error) { return s.m, 1, nil }

// checkCacheAgreesWithLRU fails unless the lock-free slots hold exactly
// the entries the LRU holds, and no more than its size.
func checkCacheAgreesWithLRU(t *testing.T, c *subjectCache, size int) {
	t.Helper()
	filled := 0
	for i := range c.slots {
		e := c.slots[i].Load()
		if e == nil {
			continue
		}
		filled++
		if got, ok := c.lru.Peek(int32(i)); !ok || got != e {
			t.Errorf("slot %d holds an entry the LRU does not (LRU has %p, %v)", i, got, ok)
		}
	}
	if filled != c.lru.Len() || filled > size {
		t.Errorf("%d slots filled, LRU holds %d, size %d", filled, c.lru.Len(), size)
	}
}

// TestSubjectCacheBoundedAndCorrect runs the same requests through a tiny
// cache that evicts constantly, a large one, and none, from several
// goroutines, and requires the same answers and a cache that never holds
// more than its size.
func TestSubjectCacheBoundedAndCorrect(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := fixtures.City(fixtures.Config{Seed: 7, Users: 2_000, At: at})
	reqs := fixtures.RequestsAt(m, 3, 4_000, at)
	clock := WithClock(func() time.Time { return at })
	ctx := context.Background()
	ref, err := New(ctx, modelSource{m}, clock, WithSubjectCache(0))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	want := make([]Decision, len(reqs))
	allowed := 0
	for i, r := range reqs {
		want[i], _ = ref.Check(ctx, r.Subject, r.Permission, r.Scope)
		if want[i].Allowed {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(reqs) {
		t.Fatalf("%d of %d allowed: the mix must hold both", allowed, len(reqs))
	}
	for _, size := range []int{1, 5, 100_000} {
		a, err := New(ctx, modelSource{m}, clock, WithSubjectCache(size))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for k := range 2 * len(reqs) {
					i := (k*7 + g*1013) % len(reqs)
					r := reqs[i]
					d, err := a.Check(ctx, r.Subject, r.Permission, r.Scope)
					if (err == nil) != (want[i].Reason != "invalid input") || d.Allowed != want[i].Allowed || d.Reason != want[i].Reason {
						t.Errorf("cache %d: %s %s at %s = %+v, %v; without a cache %+v", size, r.Subject, r.Permission, r.Scope, d, err, want[i])
						return
					}
				}
			})
		}
		wg.Wait()
		checkCacheAgreesWithLRU(t, a.snap.Load().cache, size)
		a.Close()
	}
}

// TestSubjectCacheEntryEndsWithItsWindow checks that a cached entry is
// replaced when the clock passes the instant it stops being true, in both
// directions, and that the replacement stays in step with the LRU.
func TestSubjectCacheEntryEndsWithItsWindow(t *testing.T) {
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
	a, err := New(context.Background(), modelSource{m}, WithSubjectCache(1), WithClock(func() time.Time {
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
		checkCacheAgreesWithLRU(t, a.snap.Load().cache, 1)
	}
}
