package apikey_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/session/apikey"
)

// BenchmarkVerifyWarm: a key in the process cache (no store access).
func BenchmarkVerifyWarm(b *testing.B) {
	f := newFixture(b, apikey.WithFlushInterval(time.Hour))
	c := f.create(b, "permits-sync", apikey.KeySpec{})
	ctx := context.Background()
	if _, err := f.m.Verify(ctx, c.Secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.m.Verify(ctx, c.Secret); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyWarmParallel: the same from every core.
func BenchmarkVerifyWarmParallel(b *testing.B) {
	f := newFixture(b, apikey.WithFlushInterval(time.Hour))
	c := f.create(b, "permits-sync", apikey.KeySpec{})
	ctx := context.Background()
	f.m.Verify(ctx, c.Secret)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.m.Verify(ctx, c.Secret); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyMiss: every verification misses the cache (it holds one
// entry, two keys alternate) and reads the memory store once.
func BenchmarkVerifyMiss(b *testing.B) {
	f := newFixture(b, apikey.WithCache(1), apikey.WithFlushInterval(time.Hour))
	k1 := f.create(b, "permits-sync", apikey.KeySpec{}).Secret
	k2 := f.create(b, "permits-sync", apikey.KeySpec{}).Secret
	ctx := context.Background()
	keys := [2]string{k1, k2}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := f.m.Verify(ctx, keys[i&1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerifyRefused compares the two refusals that must look alike:
// a wrong secret for an existing id and an id that does not exist, warm
// (both answered from the process) and cold (both read the store).
func BenchmarkVerifyRefused(b *testing.B) {
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		for _, which := range []string{"wrong-secret", "unknown-id"} {
			b.Run(name+"/"+which, func(b *testing.B) {
				f := newFixture(b, apikey.WithFlushInterval(time.Hour))
				c := f.create(b, "permits-sync", apikey.KeySpec{})
				p, _ := apikey.Parse(c.Secret)
				key := apikey.Assemble(p.ID, strings.Repeat("a", apikey.SecretLen))
				if which == "unknown-id" {
					key = apikey.Assemble(strings.Repeat("q", apikey.IDLen), p.Secret)
				}
				ctx := context.Background()
				f.m.Verify(ctx, c.Secret)
				f.m.Verify(ctx, key)
				b.ReportAllocs()
				for b.Loop() {
					if cold {
						b.StopTimer()
						f.m.Flush(ctx) // no-op; keeps the loop shape
						purge(f)
						b.StartTimer()
					}
					if _, err := f.m.Verify(ctx, key); err == nil {
						b.Fatal("accepted")
					}
				}
			})
		}
	}
}

// purge empties the Manager's caches through its public surface: a
// change to an account drops everything.
func purge(f *fixture) {
	f.m.EnableAccount(f.ctx, "gl-export", "bench")
}

// BenchmarkLastUseCost: the per-request cost of last-use tracking, an
// atomic store of the time into the cached entry (measured as the
// difference between a warm Verify and Parse plus the cache lookup is
// noisy, so this measures the store itself on the same shape).
func BenchmarkLastUseCost(b *testing.B) {
	var e struct {
		_ [64]byte
		v atomicInt64
	}
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		e.v.Store(now)
	}
}

// BenchmarkParse: format and checksum check alone.
func BenchmarkParse(b *testing.B) {
	k := apikey.Assemble(strings.Repeat("a", apikey.IDLen), strings.Repeat("b", apikey.SecretLen))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := apikey.Parse(k); err != nil {
			b.Fatal(err)
		}
	}
}
