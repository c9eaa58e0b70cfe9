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
// sees a token.
func BenchmarkLookupMiss(b *testing.B) {
	ctx := context.Background()
	addr, prefix := sharedRedis(b)
	writer := newStore(b, addr, prefix)
	const callers = 16
	n := b.N + callers
	now := time.Now()
	for i := range n {
		if err := writer.Create(ctx, rec(fmt.Sprintf("s%d", i), fmt.Sprintf("user:u%d", i%1000), now)); err != nil {
			b.Fatal(err)
		}
	}
	reader := newStore(b, addr, prefix)
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
				if _, err := reader.Get(ctx, fmt.Sprintf("s%d", i)); err != nil {
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
