package signin_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/session/password"
	"github.com/civic-platform/security/session/signin"
)

// benchService is a Service at the OWASP hashing parameters with limits
// high enough that benchmarks never lock.
func benchService(b *testing.B) *signin.Service {
	b.Helper()
	h, err := password.NewHasher()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := signin.New(signin.NewMemStore(), mustSealer(b), signin.WithHasher(h),
		signin.WithLockout(signin.Lockout{ClientLimit: 1 << 30, AccountLimit: 1 << 30}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.CreateUser(ctx, signin.User{ID: "u1", Email: email}); err != nil {
		b.Fatal(err)
	}
	if err := svc.SetPassword(ctx, "u1", good); err != nil {
		b.Fatal(err)
	}
	return svc
}

// BenchmarkSignInFailure compares a wrong password for a known account
// with any password for an unknown one: the unknown account is verified
// against a dummy hash with the same parameters, so the two cost the same
// (compare ns/op of the sub-benchmarks).
func BenchmarkSignInFailure(b *testing.B) {
	svc := benchService(b)
	ctx := context.Background()
	for _, tc := range []struct{ name, email string }{{"KnownWrongPassword", email}, {"UnknownUser", "nobody@lakeview.ca"}} {
		b.Run(tc.name, func(b *testing.B) {
			a := signin.Attempt{Email: tc.email, Password: "wrong password", Client: "c"}
			for b.Loop() {
				if _, err := svc.SignIn(ctx, a); err == nil {
					b.Fatal("signed in")
				}
			}
		})
	}
}

// BenchmarkParallelSignIn100 starts 100 sign-ins at once through the
// service (OWASP parameters, default cap of GOMAXPROCS hashes) and
// reports the most heap in use seen while they run.
func BenchmarkParallelSignIn100(b *testing.B) {
	svc := benchService(b)
	ctx := context.Background()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	})
	for b.Loop() {
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				_, _ = svc.SignIn(ctx, signin.Attempt{Email: email, Password: good, Client: fmt.Sprint("c", i)})
			})
		}
		wg.Wait()
	}
	close(stop)
	sampler.Wait()
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(base.HeapInuse)/(1<<20), "base-heap-MiB")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "hash-cap")
}
