package iam_test

import (
	"context"
	"sync"
	"testing"
	"time"

	casbin "github.com/casbin/casbin/v3"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/fixtures"
	"github.com/civic-platform/security/rbac"
)

// benchAt is the instant every benchmark check is made at.
var benchAt = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type benchFixture struct {
	model rbac.Model
	reqs  []fixtures.Request // the mix every variant answers
	warm  *iam.Authorizer    // default options, every request answered once before
	cold  *iam.Authorizer    // caching off (WithSubjectCache(0))
	floor map[floorKey]bool  // precomputed answers
}

type floorKey struct {
	sub   rbac.Subject
	perm  rbac.Permission
	scope rbac.Scope
}

var (
	benchOnce sync.Once
	benchFx   *benchFixture
	benchErr  error
)

// benchRequests is how many distinct requests each variant cycles through.
// Casbin's cached enforcer must answer each once (uncached, ~20 ms) before
// it is warm, which bounds this number.
const benchRequests = 512

func cityFixture(b *testing.B) *benchFixture {
	b.Helper()
	benchOnce.Do(func() {
		m := fixtures.City(fixtures.Config{Seed: 1, Users: 10_000, Depth: 8, At: benchAt})
		fx := &benchFixture{model: m, reqs: fixtures.RequestsAt(m, 2, benchRequests, benchAt), floor: map[floorKey]bool{}}
		ctx := context.Background()
		clock := iam.WithClock(iamtest.Clock(benchAt))
		if fx.warm, benchErr = iam.New(ctx, iamtest.NewStore(m), clock); benchErr != nil {
			return
		}
		if fx.cold, benchErr = iam.New(ctx, iamtest.NewStore(m), clock, iam.WithSubjectCache(0)); benchErr != nil {
			return
		}
		for _, r := range fx.reqs {
			d, err := fx.warm.Check(ctx, r.Subject, r.Permission, r.Scope)
			if err != nil {
				benchErr = err
				return
			}
			fx.floor[floorKey{r.Subject, r.Permission, r.Scope}] = d.Allowed
		}
		benchFx = fx
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchFx
}

// BenchmarkCheck compares the facade with Casbin on the synthetic city
// (10,000 staff, 300 roles in hierarchies 8 deep) over one mix of allowed and
// denied requests from many subjects:
//
//   - warm: the default Authorizer, every request answered once before;
//   - cold: caching off (WithSubjectCache(0)); checks are answered from
//     the compiled indexes either way, so the two differ only by noise;
//   - casbin: a plain Casbin enforcer over the same policy lines;
//   - casbin-cached: Casbin's CachedEnforcer, every request already cached;
//   - map: a Go map of precomputed answers, the floor.
//
// The -parallel variants use RunParallel, so lock contention shows.
func BenchmarkCheck(b *testing.B) {
	fx := cityFixture(b)
	ctx := context.Background()
	n := len(fx.reqs)
	allowed := 0
	for _, v := range fx.floor {
		if v {
			allowed++
		}
	}
	b.Logf("%d requests, %d distinct, %d allowed", n, len(fx.floor), allowed)

	check := func(a *iam.Authorizer) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := &fx.reqs[i%n]
				if _, err := a.Check(ctx, r.Subject, r.Permission, r.Scope); err != nil {
					b.Fatal(err)
				}
				i++
			}
		}
	}
	checkParallel := func(a *iam.Authorizer) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					r := &fx.reqs[i%n]
					if _, err := a.Check(ctx, r.Subject, r.Permission, r.Scope); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
	b.Run("warm", check(fx.warm))
	b.Run("cold", check(fx.cold))
	b.Run("warm-parallel", checkParallel(fx.warm))
	b.Run("cold-parallel", checkParallel(fx.cold))
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		i, hits := 0, 0
		for b.Loop() {
			r := &fx.reqs[i%n]
			if fx.floor[floorKey{r.Subject, r.Permission, r.Scope}] {
				hits++
			}
			i++
		}
		_ = hits
	})
	b.Run("casbin", func(b *testing.B) {
		e, err := casbinx.NewEnforcer(fx.model)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r := &fx.reqs[i%n]
			if _, err := casbinx.Enforce(e, r.Subject, r.Permission, r.Scope, benchAt); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("casbin-cached", func(b *testing.B) {
		e := cachedEnforcer(b, fx)
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			r := &fx.reqs[i%n]
			if _, err := e.Enforce(casbinx.Request(r.Subject, r.Permission, r.Scope, benchAt)...); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

var (
	cachedOnce sync.Once
	cachedE    *casbin.CachedEnforcer
	cachedErr  error
)

// cachedEnforcer builds Casbin's CachedEnforcer over the city and answers
// every benchmark request once, so that the benchmark measures cache hits.
func cachedEnforcer(b *testing.B, fx *benchFixture) *casbin.CachedEnforcer {
	b.Helper()
	cachedOnce.Do(func() {
		lines, err := casbinx.Lines(fx.model)
		if err != nil {
			cachedErr = err
			return
		}
		cm, err := casbinx.NewModel()
		if err != nil {
			cachedErr = err
			return
		}
		e, err := casbin.NewCachedEnforcer(cm)
		if err != nil {
			cachedErr = err
			return
		}
		if cachedErr = casbinx.Configure(e.Enforcer); cachedErr != nil {
			return
		}
		if cachedErr = casbinx.AddLines(e, lines); cachedErr != nil {
			return
		}
		for _, r := range fx.reqs {
			if _, err := e.Enforce(casbinx.Request(r.Subject, r.Permission, r.Scope, benchAt)...); err != nil {
				cachedErr = err
				return
			}
		}
		cachedE = e
	})
	if cachedErr != nil {
		b.Fatal(cachedErr)
	}
	return cachedE
}
