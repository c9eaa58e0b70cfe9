package rbac_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/fixtures"
	"github.com/civic-platform/security/rbac"
)

// benchCity is a synthetic city with its compiled policy and a fixed mix
// of requests, shared by the benchmarks that use the same Config.
type benchCity struct {
	model  rbac.Model
	policy *rbac.Policy
	reqs   []fixtures.Request
}

var benchCities = struct {
	sync.Mutex
	m map[fixtures.Config]*benchCity
}{m: map[fixtures.Config]*benchCity{}}

// benchRequests is the size of the request mix: large enough that the
// subjects a benchmark touches do not all stay in cache.
const benchRequests = 1 << 14

func cityFor(b *testing.B, cfg fixtures.Config) *benchCity {
	b.Helper()
	if cfg.Users == 0 { // one cache entry per city, however it is spelled
		cfg.Users = fixtures.DefaultUsers
	}
	if cfg.Depth == 0 {
		cfg.Depth = fixtures.DefaultDepth
	}
	benchCities.Lock()
	defer benchCities.Unlock()
	if c, ok := benchCities.m[cfg]; ok {
		return c
	}
	m := fixtures.City(cfg)
	p, err := rbac.Compile(m)
	if err != nil {
		b.Fatalf("Compile: %v", err)
	}
	c := &benchCity{model: m, policy: p, reqs: fixtures.Requests(m, 3, benchRequests)}
	benchCities.m[cfg] = c
	return c
}

var sinkResult rbac.Result

// decideLoop runs cold checks — Resolve, then Decide — over the request
// mix until b.Loop says stop.
func decideLoop(b *testing.B, c *benchCity) {
	b.Helper()
	b.ReportAllocs()
	p, reqs := c.policy, c.reqs
	for i := 0; b.Loop(); i++ {
		r := &reqs[i&(benchRequests-1)]
		q, err := p.Resolve(r.Permission, r.Scope)
		if err != nil {
			b.Fatal(err)
		}
		sinkResult = p.Decide(r.Subject, q, r.At)
	}
}

// BenchmarkDecide measures a cold check (Resolve + Decide, no cache) on
// the default city — 10,000 users, 300 roles, hierarchies 8 deep — over a
// fixed request mix, from every core at once.
func BenchmarkDecide(b *testing.B) {
	c := cityFor(b, fixtures.Config{Seed: 1})
	b.Run("serial", func(b *testing.B) { decideLoop(b, c) })
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		p, reqs := c.policy, c.reqs
		b.RunParallel(func(pb *testing.PB) {
			var res rbac.Result
			for i := 0; pb.Next(); i++ {
				r := &reqs[(i*7919)&(benchRequests-1)]
				q, err := p.Resolve(r.Permission, r.Scope)
				if err != nil {
					b.Error(err)
					return
				}
				res = p.Decide(r.Subject, q, r.At)
			}
			_ = res
		})
	})
}

// BenchmarkDecideScaling measures the cold check as the city grows: 1,000
// to 100,000 users at depth 8, and depth 2 to 8 at 10,000 users, with the
// same 300 roles and 2,000 rules throughout. Cold check time should grow at
// most 2.5× from 1k to 100k users and 1.5× from depth 2 to 8; when all the
// sub-benchmarks of a series ran, the ratio is logged and checked.
func BenchmarkDecideScaling(b *testing.B) {
	var mu sync.Mutex
	nsOp := map[string]float64{}
	run := func(name string, cfg fixtures.Config) {
		b.Run(name, func(b *testing.B) {
			c := cityFor(b, cfg)
			decideLoop(b, c)
			mu.Lock()
			nsOp[name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			mu.Unlock()
		})
	}
	for _, users := range []int{1_000, 10_000, 100_000} {
		run(fmt.Sprintf("users=%d", users), fixtures.Config{Seed: 1, Users: users})
	}
	for _, depth := range []int{2, 4, 8} {
		run(fmt.Sprintf("depth=%d", depth), fixtures.Config{Seed: 1, Depth: depth})
	}
	for _, lim := range []struct {
		from, to string
		max      float64
	}{{"users=1000", "users=100000", 2.5}, {"depth=2", "depth=8", 1.5}} {
		from, okFrom := nsOp[lim.from]
		to, okTo := nsOp[lim.to]
		if !okFrom || !okTo || from == 0 {
			continue
		}
		ratio := to / from
		b.Logf("cold check %s: %.0f ns, %s: %.0f ns, ratio %.2f (limit %.1f)", lim.from, from, lim.to, to, ratio, lim.max)
		if ratio > lim.max {
			// Reported, not failed, so that a full benchmark run completes;
			// BENCHMARKS.md records the target as missed.
			b.Logf("TARGET MISSED: cold check grows %.2f× from %s to %s, want at most %.1f×", ratio, lim.from, lim.to, lim.max)
		}
	}
}

// heapAfterGC returns the live heap after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkCompile measures building the Policy from the city model
// (target: under 15 ms at 10,000 users) and reports the heap the policy
// keeps once built (heap-B, measured after a GC with the model already
// live, so the name strings the policy shares with the model are not
// counted), that per Casbin line the model stands for, and the line count.
func BenchmarkCompile(b *testing.B) {
	for _, users := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			m := fixtures.City(fixtures.Config{Seed: 1, Users: users})
			b.ReportAllocs()
			before := heapAfterGC()
			var p *rbac.Policy
			for b.Loop() {
				var err error
				if p, err = rbac.Compile(m); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			after := heapAfterGC()
			runtime.KeepAlive(p)
			held := float64(after) - float64(before)
			b.ReportMetric(held, "heap-B")
			b.ReportMetric(held/float64(p.Lines()), "B/line")
			b.ReportMetric(float64(p.Lines()), "lines")
			runtime.KeepAlive(m)
		})
	}
}

// BenchmarkCasbinEnforce is the baseline: a plain Casbin enforcer over the
// full city policy (10,000 users), answering the same request mix as
// BenchmarkDecide. It also reports the heap the enforcer keeps per line.
func BenchmarkCasbinEnforce(b *testing.B) {
	c := cityFor(b, fixtures.Config{Seed: 1})
	lines, err := casbinx.Lines(c.model)
	if err != nil {
		b.Fatal(err)
	}
	before := heapAfterGC()
	e, err := casbinx.NewEnforcerFromLines(lines)
	if err != nil {
		b.Fatal(err)
	}
	held := float64(heapAfterGC()) - float64(before)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := &c.reqs[i&(benchRequests-1)]
		if _, err := casbinx.Enforce(e, r.Subject, r.Permission, r.Scope, r.At); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(held/float64(len(lines)), "B/line")
	b.ReportMetric(float64(len(lines)), "lines")
	runtime.KeepAlive(e)
}
