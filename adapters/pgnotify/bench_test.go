package pgnotify_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/internal/fixtures"
	"github.com/civic-platform/security/rbac"
)

// BenchmarkPropagation measures, across OS processes, the time from a
// committed revoke in this process (pgstore Apply has returned) to the
// first denying Check in each of three child processes, each with an
// Authorizer fed by a Listener. One op is one revoke; the re-grant that
// follows it is waited for too but not timed. Metrics: p50-ms and p99-ms
// over every (revoke, process) pair, and slowest-p99-ms over the slowest
// process of each revoke. Children poll Check every 50 µs, so the numbers
// include up to that much.
//
//	go test -run '^$' -bench BenchmarkPropagation -benchtime 200x ./adapters/pgnotify
func BenchmarkPropagation(b *testing.B) {
	ctx := context.Background()
	e := setup(b)
	if _, err := e.store.Replace(ctx, staff(10)); err != nil {
		b.Fatal(err)
	}
	cs := startChildren(b, 3, func(i int) childConfig {
		return childConfig{dsn: e.dsn, channel: e.channel, app: fmt.Sprintf("%s-bench%d", e.channel, i), stale: time.Minute, backoff: 50 * time.Millisecond}
	})
	regrant := rbac.Change{Grant: []rbac.Grant{{Subject: user(0), Role: "clerk", Scope: "ward:7"}}}
	var all, slowest []time.Duration
	for b.Loop() {
		lat := propagate(b, e.store, cs, 0, revoke(0), "deny")
		all = append(all, lat...)
		slowest = append(slowest, slices.Max(lat))
		b.StopTimer()
		propagate(b, e.store, cs, 0, regrant, "allow")
		b.StartTimer()
	}
	slices.Sort(all)
	slices.Sort(slowest)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(quantile(all, 0.5)), "p50-ms")
	b.ReportMetric(ms(quantile(all, 0.99)), "p99-ms")
	b.ReportMetric(ms(quantile(slowest, 0.99)), "slowest-p99-ms")
	b.Logf("%d revokes x %d processes: p50 %s p99 %s max %s", len(slowest), len(cs), quantile(all, 0.5), quantile(all, 0.99), all[len(all)-1])
}

// BenchmarkLoadPolicy measures a full load of the synthetic city from
// PostgreSQL into a ready snapshot (iam.New: pgstore's LoadCompiled reads
// the rows in one transaction, decodes them and compiles the model once;
// the Authorizer takes the compiled policy as it is) for 10,000 and 100,000
// users. Before the timed loop it measures the phases once and reports
// them: loadpolicy-ms (pgstore LoadPolicy, which is the same read, decode
// and compile), compile-ms (rbac.Compile alone, the part of that spent
// compiling) and scan-floor-ms (every row read with pgx into strings, no
// gorm, no database/sql). Setup writes the city with Replace, which takes
// a while at 100,000 users.
//
//	go test -run '^$' -bench BenchmarkLoadPolicy -benchtime 3x -timeout 30m ./adapters/pgnotify
func BenchmarkLoadPolicy(b *testing.B) {
	for _, users := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			ctx := context.Background()
			e := setup(b)
			m := fixtures.City(fixtures.Config{Seed: 1, Users: users})
			began := time.Now()
			if _, err := e.store.Replace(ctx, m); err != nil {
				b.Fatal(err)
			}
			b.Logf("setup: Replace of %d users took %s", users, time.Since(began))

			began = time.Now()
			lm, _, err := e.store.LoadPolicy(ctx)
			if err != nil {
				b.Fatal(err)
			}
			loaded := time.Now()
			if _, err := rbac.Compile(lm); err != nil {
				b.Fatal(err)
			}
			compiled := time.Now()
			rows, floor := scanFloor(b, e.dsn)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			for b.Loop() {
				a, err := iam.New(ctx, e.store)
				if err != nil {
					b.Fatal(err)
				}
				a.Close()
			}
			// After the loop: b.Loop resets the timer, which drops metrics.
			b.ReportMetric(ms(loaded.Sub(began)), "loadpolicy-ms")
			b.ReportMetric(ms(compiled.Sub(loaded)), "compile-ms")
			b.ReportMetric(ms(floor), "scan-floor-ms")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

// scanFloor reads every casbin_rule row with pgx into strings and returns
// the row count and the time it took.
func scanFloor(b *testing.B, dsn string) (int, time.Duration) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	began := time.Now()
	rows, err := conn.Query(ctx, "SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id")
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	var v [7]string
	for rows.Next() {
		if err := rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n, time.Since(began)
}

// BenchmarkCheckDuringReload measures warm checks (RunParallel over 512
// requests of the 10,000-user city) on an Authorizer fed by a Listener,
// idle and while another pool applies changes in a loop, so that the
// Authorizer reloads the whole policy over and over. Each reload starts a
// new snapshot with empty caches, so some checks after each one
// are cold. The revisions metric is how far the snapshot revision moved during the
// run (bursts coalesce, so there may be fewer reloads).
//
//	go test -run '^$' -bench BenchmarkCheckDuringReload ./adapters/pgnotify
func BenchmarkCheckDuringReload(b *testing.B) {
	ctx := context.Background()
	e := setup(b)
	m := fixtures.City(fixtures.Config{Seed: 1, Users: 10_000})
	if _, err := e.store.Replace(ctx, m); err != nil {
		b.Fatal(err)
	}
	at := fixtures.DefaultAt
	reqs := fixtures.RequestsAt(m, 2, 512, at)
	a, err := iam.New(ctx, newStore(b, open(b, e.dsn)), iam.WithNotifier(e.listener(b)),
		iam.WithClock(iamtest.Clock(at)), iam.WithMaxStaleness(time.Minute), iam.WithLogger(quietLog))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	// A grant to toggle: revoke it, grant it again, and so on.
	g := m.Grants[len(m.Grants)/2]
	toggle := []rbac.Change{{Revoke: []rbac.GrantKey{g.Key()}}, {Grant: []rbac.Grant{g}}}

	run := func(b *testing.B) {
		for _, r := range reqs { // warm the cache
			a.Check(ctx, r.Subject, r.Permission, r.Scope)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				r := &reqs[i%len(reqs)]
				if _, err := a.Check(ctx, r.Subject, r.Permission, r.Scope); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		b.StopTimer() // not the writer's shutdown
	}
	b.Run("idle", run)
	b.Run("reloading", func(b *testing.B) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var writes atomic.Int64
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.store.Apply(ctx, toggle[i%2]); err != nil {
					b.Error(err)
					return
				}
				writes.Add(1)
			}
		}()
		before := a.Revision()
		time.Sleep(300 * time.Millisecond) // let reloads get going
		run(b)
		close(stop)
		wg.Wait()
		if i := writes.Load() % 2; i == 1 { // leave the grant in place
			if _, err := e.store.Apply(ctx, toggle[1]); err != nil {
				b.Error(err)
			}
		}
		b.ReportMetric(float64(a.Revision()-before), "revisions")
	})
}
