package password_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/session/password"
)

// BenchmarkHash is the cost of one argon2id hash at the OWASP parameters.
func BenchmarkHash(b *testing.B) {
	h, err := password.NewHasher()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParallelVerify100 runs 100 verifications at once through a
// Hasher at the OWASP parameters and its default cap, sampling the heap
// while they run: peak-heap-MiB is the most heap in use seen, which the
// cap (GOMAXPROCS × 19 MiB plus what the garbage collector has not yet
// reclaimed) bounds, where 100 unbounded hashes would hold 1.9 GiB.
func BenchmarkParallelVerify100(b *testing.B) {
	h, err := password.NewHasher()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	enc, _ := h.Hash(ctx, "correct horse battery staple")
	var peak atomic.Uint64
	var peakFlight atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			if n := int64(h.InFlight()); n > peakFlight.Load() {
				peakFlight.Store(n)
			}
		}
	})
	for b.Loop() {
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() { _, _ = h.Verify(ctx, "wrong password here", enc) })
		}
		wg.Wait()
	}
	close(stop)
	sampler.Wait()
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peakFlight.Load()), "peak-in-flight")
	b.ReportMetric(float64(h.Concurrency()), "cap")
}
