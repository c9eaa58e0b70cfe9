package iam_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// expectConfirmed checks what a reports at the clock's instant now, given
// the last confirmation it should count (zero: none) and its bound: Health,
// and whether a check is refused as stale.
func expectConfirmed(t *testing.T, a *iam.Authorizer, now, confirmed time.Time, bound time.Duration) {
	t.Helper()
	stale := confirmed.IsZero() || now.Sub(confirmed) > bound
	h := a.Health()
	if !h.LastConfirmed.Equal(confirmed) || h.Stale != stale {
		t.Fatalf("at %v: Health says last confirmed %v, stale %v; want %v, %v", now, h.LastConfirmed, h.Stale, confirmed, stale)
	}
	d, err := a.Check(context.Background(), annSub, readPerm, ward7)
	if stale {
		var se *iam.StaleError
		if !errors.As(err, &se) || d.Allowed || !se.LastConfirmed.Equal(confirmed) {
			t.Fatalf("at %v, confirmed %v with a bound of %s: %+v, %v; want a StaleError", now, confirmed, bound, d, err)
		}
		if confirmed.IsZero() && !strings.Contains(err.Error(), "never confirmed") {
			t.Errorf("StaleError for a snapshot never confirmed: %v", err)
		}
		return
	}
	if err != nil || !d.Allowed {
		t.Fatalf("at %v, confirmed %v with a bound of %s: %+v, %v; want allowed", now, confirmed, bound, d, err)
	}
}

// TestFallbackConfirmationTimesNotTrusted starts from kept copies whose
// confirmation time cannot be true: zero or before 2000 counts as never
// confirmed (stale at once with a bound), and a future time counts as now,
// so the bound still runs out.
func TestFallbackConfirmationTimesNotTrusted(t *testing.T) {
	t.Parallel()
	const bound = time.Hour
	for _, c := range []struct {
		name      string
		claimed   time.Time
		confirmed time.Time // what counts; zero: nothing
	}{
		{"zero", time.Time{}, time.Time{}},
		{"Unix epoch", time.Unix(0, 0), time.Time{}},
		{"before the Unix epoch", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}},
		{"1999", time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Time{}},
		{"2000, long ago", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"within the bound", t0.Add(-30 * time.Minute), t0.Add(-30 * time.Minute)},
		{"a nanosecond ahead", t0.Add(1), t0},
		{"an hour ahead", t0.Add(time.Hour), t0},
		{"far future", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), t0},
		{"end of time", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), t0},
		{"in another zone, ahead", t0.Add(2 * time.Hour).In(time.FixedZone("east", 3*3600)), t0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clk := newManualClock(t0)
			src := &revSource{err: errors.New("connection refused")}
			a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now), iam.WithMaxStaleness(bound),
				iam.WithFallback(keptCopy(freshModel(false), 4, c.claimed)))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			expectConfirmed(t, a, clk.now(), c.confirmed, bound)
			clk.advance(bound + time.Nanosecond)
			expectConfirmed(t, a, clk.now(), c.confirmed, bound) // stale by now, whatever the claim
			if !a.Health().Stale {
				t.Fatalf("the bound never ran out for a copy claimed confirmed at %v", c.claimed)
			}
		})
	}
}

// TestOneBadConfirmationDoesNotDisableTheBound: after a bad confirmation
// time (from the copy, or from a clock that was wrong for a moment), the
// deadline follows the real confirmations that come after it, and the
// bound is enforced when they stop.
func TestOneBadConfirmationDoesNotDisableTheBound(t *testing.T) {
	t.Parallel()
	const bound = time.Hour
	future := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("future copy, then real confirmations", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		clk := newManualClock(t0)
		src := &revSource{err: errors.New("connection refused")}
		a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now), iam.WithMaxStaleness(bound),
			iam.WithFallback(keptCopy(freshModel(false), 4, future)))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		src.set(freshModel(false), 4, nil)
		for range 3 {
			clk.advance(time.Minute)
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
		}
		last := clk.now()
		expectConfirmed(t, a, clk.now(), last, bound)
		src.fail(errors.New("connection refused"))
		clk.advance(bound + time.Second)
		expectConfirmed(t, a, clk.now(), last, bound)
	})
	t.Run("clock ahead for a moment", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		clk := newManualClock(t0)
		src := &revSource{m: freshModel(false), rev: 4}
		a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now), iam.WithMaxStaleness(bound))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		clk.ns.Store(future.UnixNano())
		if err := a.Reload(ctx); err != nil { // confirms in 2200
			t.Fatal(err)
		}
		clk.ns.Store(t0.Add(time.Minute).UnixNano()) // the clock is put right
		if err := a.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		last := clk.now()
		expectConfirmed(t, a, clk.now(), last, bound)
		src.fail(errors.New("connection refused"))
		clk.advance(bound + time.Second)
		expectConfirmed(t, a, clk.now(), last, bound)
	})
	t.Run("bad times from the clock confirm nothing", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		clk := newManualClock(t0)
		src := &revSource{m: freshModel(false), rev: 4}
		a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now), iam.WithMaxStaleness(bound))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		for _, bad := range []time.Time{{}, time.Unix(0, 0), time.Date(1999, 6, 1, 0, 0, 0, 0, time.UTC)} {
			clk.ns.Store(bad.UnixNano())
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// The store goes down: a decision past the deadline cannot confirm
		// for itself (reconfirm), so the deadline is still t0 + bound.
		src.fail(errors.New("connection refused"))
		clk.ns.Store(t0.Add(bound + time.Second).UnixNano())
		expectConfirmed(t, a, clk.now(), t0, bound)
	})
}

// TestStalenessDeadlineProperty runs random sequences of clock moves,
// reloads with the store up or down (some of them slow) and an initial
// kept copy with any confirmation time, and checks after every step that
// the Authorizer's deadline is the latest real confirmation + the bound: a
// claim counts for min(claim, now) unless that is zero or before 2000.
func TestStalenessDeadlineProperty(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	epoch2000 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	claims := []func() time.Time{
		func() time.Time { return time.Time{} },
		func() time.Time { return time.Unix(0, 0) },
		func() time.Time { return epoch2000.Add(-time.Duration(rng.Int64N(int64(1000 * time.Hour)))) },
		func() time.Time { return epoch2000.Add(time.Duration(rng.Int64N(int64(t0.Sub(epoch2000))))) },
		func() time.Time { return t0.Add(-time.Duration(rng.Int64N(int64(3 * time.Hour)))) },
		func() time.Time { return t0.Add(time.Duration(rng.Int64N(int64(3 * time.Hour)))) },
		func() time.Time { return t0.AddDate(rng.IntN(200)+1, 0, 0) },
	}
	for trial := range 150 {
		bound := time.Duration(1+rng.IntN(120)) * time.Minute
		ctx := context.Background()
		clk := newManualClock(t0)
		src := &slowSource{revSource: &revSource{m: freshModel(false), rev: 4}, clk: clk}
		var (
			a       *iam.Authorizer
			err     error
			counted time.Time // the latest real confirmation
			where   string
		)
		count := func(claim time.Time) {
			now := clk.now()
			if claim.After(now) {
				claim = now
			}
			if !claim.IsZero() && !claim.Before(epoch2000) && claim.After(counted) {
				counted = claim
			}
		}
		check := func() {
			t.Helper()
			defer func() {
				if t.Failed() {
					t.Logf("trial %d, %s, bound %s", trial, where, bound)
				}
			}()
			expectConfirmed(t, a, clk.now(), counted, bound)
		}
		if rng.IntN(4) > 0 { // start from a copy while the store is down
			claim := claims[rng.IntN(len(claims))]()
			where = "copy claimed " + claim.String()
			src.fail(errors.New("connection refused"))
			a, err = iam.New(ctx, src, quiet, iam.WithClock(clk.now), iam.WithMaxStaleness(bound),
				iam.WithFallback(keptCopy(freshModel(false), 4, claim)))
			if err != nil {
				t.Fatal(err)
			}
			count(claim)
			check()
			clk.advance(time.Duration(rng.Int64N(int64(2 * bound))))
			check()
			// The store answers; the clock stands still until the
			// Authorizer has left fallback mode (its own retries then stop).
			src.set(freshModel(false), 4, nil)
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			src.fail(errors.New("connection refused"))
			count(clk.now())
			check()
		} else {
			where = "store up at New"
			a, err = iam.New(ctx, src, quiet, iam.WithClock(clk.now), iam.WithMaxStaleness(bound))
			if err != nil {
				t.Fatal(err)
			}
			src.fail(errors.New("connection refused"))
			count(t0)
			check()
		}
		for step := range 12 {
			clk.advance(time.Duration(rng.Int64N(int64(2 * bound))))
			switch rng.IntN(3) {
			case 0: // the store answers, perhaps slowly: the claim is when the read began
				where = fmt.Sprintf("step %d (store up)", step)
				start := clk.now()
				src.delay.Store(rng.Int64N(int64(bound / 2)))
				src.set(freshModel(false), 4, nil)
				if err := a.Reload(ctx); err != nil {
					t.Fatal(err)
				}
				src.fail(errors.New("connection refused"))
				src.delay.Store(0)
				count(start)
			case 1:
				where = fmt.Sprintf("step %d (store down)", step)
				if err := a.Reload(ctx); err == nil {
					t.Fatal("Reload succeeded with the store down")
				}
			default:
				where = fmt.Sprintf("step %d (time passes)", step)
			}
			check()
		}
		a.Close()
	}
}

// slowSource is a revSource whose successful loads take delay on clk.
type slowSource struct {
	*revSource
	clk   *manualClock
	delay atomic.Int64
}

func (s *slowSource) LoadPolicy(ctx context.Context) (rbac.Model, int64, error) {
	m, rev, err := s.revSource.LoadPolicy(ctx)
	if err == nil {
		s.clk.advance(time.Duration(s.delay.Load()))
	}
	return m, rev, err
}
