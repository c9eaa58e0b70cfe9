package iam_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// freshModel grants user:ann the clerk role; without is the same policy
// with her grant revoked.
func freshModel(without bool) rbac.Model {
	m := rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "ward:7"}},
		Roles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grants: []rbac.Grant{{Subject: "user:bo", Role: "clerk", Scope: "org"}},
	}
	if !without {
		m.Grants = append(m.Grants, rbac.Grant{Subject: "user:ann", Role: "clerk", Scope: "ward:7"})
	}
	return m
}

// revSource is a PolicySource and RevisionSource that can be told to fail,
// and counts its calls.
type revSource struct {
	mu    sync.Mutex
	m     rbac.Model
	rev   int64
	err   error
	loads atomic.Int64
	revs  atomic.Int64
}

func (s *revSource) LoadPolicy(context.Context) (rbac.Model, int64, error) {
	s.loads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return rbac.Model{}, 0, s.err
	}
	return s.m, s.rev, nil
}

func (s *revSource) Revision(context.Context) (int64, error) {
	s.revs.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev, s.err
}

func (s *revSource) set(m rbac.Model, rev int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m, s.rev, s.err = m, rev, err
}

func (s *revSource) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// manualClock is a clock tests move by hand.
type manualClock struct{ ns atomic.Int64 }

func newManualClock(t time.Time) *manualClock {
	c := &manualClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *manualClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *manualClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// quiet drops the warnings that failing stores make the Authorizer log.
var quiet = iam.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

var t0 = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

const (
	annSub   iam.Subject    = "user:ann"
	readPerm iam.Permission = "permits.application.read"
	ward7    iam.Scope      = "ward:7"
)

func TestStaleSnapshotFailsClosedAndRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newManualClock(t0)
	src := &revSource{m: freshModel(false), rev: 4}
	// An hour's bound: the poll (every 15 minutes of real time) never runs
	// here; confirmations come from explicit reloads on the manual clock.
	a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now), iam.WithMaxStaleness(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || !d.Allowed {
		t.Fatalf("fresh: %+v, %v", d, err)
	}
	src.fail(errors.New("connection refused"))
	clk.advance(59 * time.Minute)
	if err := a.Reload(ctx); err == nil {
		t.Fatal("Reload with the store down succeeded")
	}
	h := a.Health()
	if h.Stale || h.LastError == nil || h.Revision != 4 || !h.LastConfirmed.Equal(t0) || h.MaxStaleness != time.Hour {
		t.Fatalf("within the bound, store down: %+v", h)
	}
	if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || !d.Allowed {
		t.Fatalf("within the bound the snapshot serves: %+v, %v", d, err)
	}

	clk.advance(2 * time.Minute) // 61 minutes since the last confirmation
	d, err := a.Check(ctx, annSub, readPerm, ward7)
	var se *iam.StaleError
	if !errors.Is(err, iam.ErrStale) || !errors.As(err, &se) || d.Allowed || d.Revision != 4 {
		t.Fatalf("past the bound: %+v, %v; want a denying decision and a StaleError", d, err)
	}
	if !se.LastConfirmed.Equal(t0) || se.MaxStaleness != time.Hour || se.Revision != 4 || se.At.Sub(se.LastConfirmed) != 61*time.Minute {
		t.Errorf("StaleError = %+v", se)
	}
	if err := a.Require(ctx, annSub, readPerm, ward7); !errors.Is(err, iam.ErrStale) || errors.Is(err, iam.ErrDenied) {
		t.Errorf("Require past the bound: %v", err)
	}
	ds, err := a.CheckMany(ctx, []iam.Request{{Subject: annSub, Permission: readPerm, Scope: ward7}, {Subject: "user:bo", Permission: readPerm, Scope: ward7}})
	if !errors.Is(err, iam.ErrStale) || len(ds) != 2 || ds[0].Allowed || ds[1].Allowed {
		t.Errorf("CheckMany past the bound: %+v, %v", ds, err)
	}
	if _, err := a.Permissions(ctx, annSub, ward7); !errors.Is(err, iam.ErrStale) {
		t.Errorf("Permissions past the bound: %v", err)
	}
	if h := a.Health(); !h.Stale {
		t.Errorf("Health past the bound: %+v", h)
	}

	// The store comes back with the revocation: the next reload recovers.
	src.set(freshModel(true), 5, nil)
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	d, err = a.Check(ctx, annSub, readPerm, ward7)
	if err != nil || d.Allowed || d.Revision != 5 {
		t.Fatalf("after recovery: %+v, %v; want a clean deny at revision 5", d, err)
	}
	if h := a.Health(); h.Stale || h.LastError != nil || !h.LastConfirmed.Equal(clk.now()) || h.LastErrorAt.IsZero() {
		t.Errorf("Health after recovery: %+v", h)
	}
}

func TestUnchangedReloadConfirms(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newManualClock(t0)
	src := &revSource{m: freshModel(false), rev: 1}
	a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now), iam.WithMaxStaleness(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	clk.advance(50 * time.Minute)
	if err := a.Reload(ctx); err != nil { // same revision
		t.Fatal(err)
	}
	clk.advance(50 * time.Minute)
	if _, err := a.Check(ctx, annSub, readPerm, ward7); err != nil {
		t.Fatalf("an unchanged reload must confirm currency: %v", err)
	}
}

// TestNoStalenessBound: the bound is off only when asked for, with
// NoStalenessBound or any negative duration; then a snapshot serves
// however long the store stays down.
func TestNoStalenessBound(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{iam.NoStalenessBound, -time.Hour} {
		ctx := context.Background()
		clk := newManualClock(t0)
		src := &revSource{m: freshModel(false), rev: 1}
		a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now), iam.WithMaxStaleness(d))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		src.fail(errors.New("down"))
		clk.advance(1000 * time.Hour)
		if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || !d.Allowed {
			t.Fatalf("WithMaxStaleness(%v): %+v, %v", d, d, err)
		}
		if h := a.Health(); h.Stale || h.Watcher != iam.WatcherNone || h.MaxStaleness != 0 ||
			h.PollInterval != iam.DefaultPollInterval || !h.RevisionSource {
			t.Errorf("WithMaxStaleness(%v): Health: %+v", d, h)
		}
	}
}

// TestConfirmationPoll: with a bound, an idle Authorizer keeps itself
// confirmed with cheap revision reads, goes stale within the bound when the
// store is unreachable, and recovers (loading what changed) on its own.
func TestConfirmationPoll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &revSource{m: freshModel(false), rev: 1}
	const bound = 500 * time.Millisecond // well above scheduling delays under the race detector
	a, err := iam.New(ctx, src, quiet, iam.WithMaxStaleness(bound))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	time.Sleep(3 * bound)
	if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || !d.Allowed {
		t.Fatalf("idle Authorizer went stale: %+v, %v", d, err)
	}
	if n := src.revs.Load(); n < 5 {
		t.Errorf("%d revision reads in %s; want one every %s", n, 3*bound, bound/4)
	}
	if n := src.loads.Load(); n != 1 {
		t.Errorf("%d full loads; an unchanged revision needs none after New", n)
	}

	src.fail(errors.New("connection refused"))
	waitFor(t, 5*time.Second, func() bool {
		_, err := a.Check(ctx, annSub, readPerm, ward7)
		return errors.Is(err, iam.ErrStale)
	})
	// Stale no sooner than the bound after the last confirmation. (Measured
	// from the last confirmation rather than from the failure: on a loaded
	// machine the poll that would have confirmed just before the failure
	// may not have run.)
	staleAt := time.Now()
	h := a.Health()
	if el := staleAt.Sub(h.LastConfirmed); el < bound {
		t.Errorf("stale %s after the last confirmation, before the bound %s", el, bound)
	}
	if !h.Stale || h.LastError == nil {
		t.Errorf("Health while down: %+v", h)
	}

	src.set(freshModel(true), 2, nil) // back, with a revocation made meanwhile
	waitFor(t, 5*time.Second, func() bool {
		d, err := a.Check(ctx, annSub, readPerm, ward7)
		return err == nil && !d.Allowed && d.Revision == 2
	})
	if h := a.Health(); h.Stale || h.LastError != nil {
		t.Errorf("Health after recovery: %+v", h)
	}
}

func waitFor(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestStoreBehindSnapshotIsAnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &revSource{m: freshModel(false), rev: 9}
	a, err := iam.New(ctx, src, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	src.set(freshModel(true), 3, nil) // restored from an old backup
	if err := a.Reload(ctx); err == nil {
		t.Fatal("Reload accepted a store behind the snapshot")
	}
	if h := a.Health(); h.LastError == nil || h.Revision != 9 {
		t.Errorf("Health: %+v", h)
	}
}

func TestWaitForRevision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("reloads on the caller's goroutine", func(t *testing.T) {
		t.Parallel()
		src := &revSource{m: freshModel(false), rev: 1}
		a, err := iam.New(ctx, src, quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if err := a.WaitForRevision(ctx, 1); err != nil {
			t.Fatal(err)
		}
		src.set(freshModel(true), 3, nil) // committed elsewhere, nobody told us
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := a.WaitForRevision(wctx, 3); err != nil || a.Revision() != 3 {
			t.Fatalf("WaitForRevision(3) = %v at %d", err, a.Revision())
		}
	})

	t.Run("waits for a revision not yet written", func(t *testing.T) {
		t.Parallel()
		src := &revSource{m: freshModel(false), rev: 1}
		kicks := make(chan func(), 1)
		n := iam.NotifierFunc(func(ctx context.Context, changed func()) error {
			kicks <- changed
			<-ctx.Done()
			return nil
		})
		a, err := iam.New(ctx, src, quiet, iam.WithNotifier(n))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		changed := <-kicks
		go func() {
			time.Sleep(30 * time.Millisecond)
			src.set(freshModel(true), 2, nil)
			changed()
		}()
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := a.WaitForRevision(wctx, 2); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("bounded by the context", func(t *testing.T) {
		t.Parallel()
		src := &revSource{m: freshModel(false), rev: 1}
		a, err := iam.New(ctx, src, quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := a.WaitForRevision(wctx, 7); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitForRevision past the deadline = %v", err)
		}
		if n := src.loads.Load(); n > 6 {
			t.Errorf("%d loads in 100 ms: WaitForRevision must back off", n)
		}
	})

	t.Run("Close releases waiters", func(t *testing.T) {
		t.Parallel()
		src := &revSource{m: freshModel(false), rev: 1}
		a, err := iam.New(ctx, src, quiet, iam.WithMaxStaleness(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- a.WaitForRevision(ctx, 100) }()
		time.Sleep(20 * time.Millisecond)
		a.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, iam.ErrClosed) {
				t.Fatalf("WaitForRevision after Close = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not release WaitForRevision")
		}
	})
}

// reporter is a Notifier that reports whether it is connected.
type reporter struct {
	connected atomic.Bool
	stop      chan struct{}
}

func (r *reporter) Watch(ctx context.Context, changed func()) error {
	select {
	case <-ctx.Done():
		return nil
	case <-r.stop:
		return errors.New("gave up")
	}
}

func (r *reporter) Connected() bool { return r.connected.Load() }

func TestHealthWatcherState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &revSource{m: freshModel(false), rev: 1}
	r := &reporter{stop: make(chan struct{})}
	a, err := iam.New(ctx, src, quiet, iam.WithNotifier(r))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if w := a.Health().Watcher; w != iam.WatcherReconnecting {
		t.Errorf("not yet connected: %s", w)
	}
	r.connected.Store(true)
	if w := a.Health().Watcher; w != iam.WatcherConnected {
		t.Errorf("connected: %s", w)
	}
	close(r.stop)
	waitFor(t, 5*time.Second, func() bool { return a.Health().Watcher == iam.WatcherStopped })

	b, err := iam.New(ctx, src, quiet, iam.WithNotifier(iam.NotifierFunc(func(ctx context.Context, _ func()) error {
		<-ctx.Done()
		return nil
	})))
	if err != nil {
		t.Fatal(err)
	}
	if w := b.Health().Watcher; w != iam.WatcherRunning {
		t.Errorf("a notifier that does not report its connection: %s", w)
	}
	b.Close()
	if w := b.Health().Watcher; w != iam.WatcherStopped {
		t.Errorf("after Close: %s", w)
	}
}

// TestCheckWithBoundAllocatesNothing: the staleness gate keeps a cached
// check allocation-free.
func TestCheckWithBoundAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	src := &revSource{m: freshModel(false), rev: 1}
	a, err := iam.New(ctx, src, quiet, iam.WithMaxStaleness(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Check(ctx, annSub, readPerm, ward7) // warm the cache
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := a.Check(ctx, annSub, readPerm, ward7); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Check with a staleness bound: %.1f allocations", n)
	}
}

// BenchmarkCheckWithMaxStaleness measures a warm Check behind the
// staleness gate, in parallel.
func BenchmarkCheckWithMaxStaleness(b *testing.B) {
	ctx := context.Background()
	for _, bound := range []time.Duration{0, time.Hour} {
		b.Run("bound="+bound.String(), func(b *testing.B) {
			src := &revSource{m: freshModel(false), rev: 1}
			a, err := iam.New(ctx, src, quiet, iam.WithMaxStaleness(bound))
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := a.Check(ctx, annSub, readPerm, ward7); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
