package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/session"
)

// BenchmarkLookupMiss reads session records that no cache in this process
// holds (each key is read once), from 16 concurrent callers, and reports
// the latency quantiles: the path a Manager takes the first time a process
// sees a token. "store-get" is Store.Get (a tracked read: CLIENT CACHING
// YES, PTTL and HGETALL in one MULTI); "plain-hgetall" is a bare HGETALL
// of the same kind of key on the same server in the same run, the floor.
func BenchmarkLookupMiss(b *testing.B) {
	ctx := context.Background()
	addr, prefix := sharedRedis(b)
	writer := newStore(b, addr, prefix)
	const callers = 16
	run := func(b *testing.B, get func(id string) error) {
		n := b.N + callers
		base := fmt.Sprintf("%d-", time.Now().UnixNano())
		now := time.Now()
		for i := range n {
			if err := writer.Create(ctx, rec(base+fmt.Sprint(i), fmt.Sprintf("user:u%d", i%1000), now)); err != nil {
				b.Fatal(err)
			}
		}
		ids := make([]string, n)
		for i := range ids {
			ids[i] = base + fmt.Sprint(i)
		}
		var next atomic.Int64
		lat := make([][]time.Duration, callers)
		b.ReportAllocs()
		b.ResetTimer()
		var wg sync.WaitGroup
		for c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(b.N) {
						return
					}
					start := time.Now()
					if err := get(ids[i]); err != nil {
						b.Error(err)
						return
					}
					lat[c] = append(lat[c], time.Since(start))
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		all := slices.Concat(lat...)
		slices.Sort(all)
		if len(all) > 0 {
			b.ReportMetric(float64(quantile(all, 0.5).Microseconds()), "p50-µs")
			b.ReportMetric(float64(quantile(all, 0.99).Microseconds()), "p99-µs")
		}
	}
	reader := newStore(b, addr, prefix)
	b.Run("store-get", func(b *testing.B) {
		run(b, func(id string) error {
			_, err := reader.Get(ctx, id)
			return err
		})
	})
	c := reader.Client()
	b.Run("plain-hgetall", func(b *testing.B) {
		run(b, func(id string) error {
			m, err := c.Do(ctx, c.B().Hgetall().Key(prefix+"s:"+id).Build()).AsStrMap()
			if err == nil && len(m) == 0 {
				err = session.ErrNotFound
			}
			return err
		})
	})
}

// BenchmarkVerifyCachedOnRedis is the cached Verify of a Manager on Redis:
// no network once the token is cached.
func BenchmarkVerifyCachedOnRedis(b *testing.B) {
	ctx := context.Background()
	addr, prefix := sharedRedis(b)
	m := newManager(b, newStore(b, addr, prefix), newKeys(b))
	_, tok, err := m.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
