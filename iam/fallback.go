package iam

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/civic-platform/security/rbac"
)

// SnapshotStore keeps a local copy of the last policy an Authorizer loaded
// from its store, so that the process can start while that store is
// unreachable ([WithFallback]). adapters/sqlitestore implements it in an
// embedded SQLite file.
type SnapshotStore interface {
	// SaveSnapshot replaces the kept copy with m at revision, confirmed
	// current at instant confirmed.
	SaveSnapshot(ctx context.Context, m rbac.Model, revision int64, confirmed time.Time) error
	// ConfirmSnapshot records that the kept copy, if it is at revision,
	// was still current at confirmed.
	ConfirmSnapshot(ctx context.Context, revision int64, confirmed time.Time) error
	// LoadSnapshot returns the kept copy, its revision and when it was last
	// confirmed current. It returns an error if no copy is kept.
	LoadSnapshot(ctx context.Context) (m rbac.Model, revision int64, confirmed time.Time, err error)
}

// WithFallback keeps a copy of the policy in s and starts from it when the
// store cannot be read at [New].
//
// After each load of a new revision the Authorizer saves the policy to s
// from a background goroutine (bursts of changes coalesce into one save of
// the newest), and while nothing changes it records in s, at most once per
// minute, that the copy is still current. If [New] cannot load the policy
// from its source, it starts from the copy instead of failing:
// [Health.Fallback] is true, [Health.LastError] says why the store could
// not be read, and the Authorizer keeps trying the store (with a backoff
// of up to 30 s, and on every notification) until a load or confirmation
// succeeds. New still fails, with both errors, when the copy cannot be
// read or does not compile.
//
// The copy counts as confirmed current when it was last confirmed, not when
// it was read: with [WithMaxStaleness], checks made from a copy older than
// the bound fail closed with [ErrStale] until the store is back. A copy is
// only useful for the store it was taken from; a copy at a higher revision
// than the store's makes every later load fail as "behind the snapshot".
func WithFallback(s SnapshotStore) Option { return func(o *options) { o.fallback = s } }

// keepConfirmedEvery is how often, at most, the kept copy's confirmation
// time is brought up to date.
const keepConfirmedEvery = time.Minute

// keeper saves snapshots to the fallback store on its own goroutine, so
// that a reload never waits for a local disk.
type keeper struct {
	mu        sync.Mutex
	pending   *snapshot // newest snapshot not yet saved
	pendingAt time.Time // when it was confirmed current
	touchRev  int64     // a confirmation to record, if touchAt is set
	touchAt   time.Time
	lastTouch time.Time // when a confirmation was last queued
	signal    chan struct{}
}

// keep queues s, confirmed current at confirmed, for saving.
func (a *Authorizer) keep(s *snapshot, confirmed time.Time) {
	if a.opts.fallback == nil {
		return
	}
	k := &a.keeper
	k.mu.Lock()
	k.pending, k.pendingAt = s, confirmed
	k.touchAt, k.lastTouch = time.Time{}, confirmed
	k.mu.Unlock()
	k.wake()
}

// keepConfirmed queues a record that revision was current at at, unless
// one was queued less than keepConfirmedEvery before.
func (a *Authorizer) keepConfirmed(revision int64, at time.Time) {
	if a.opts.fallback == nil {
		return
	}
	k := &a.keeper
	k.mu.Lock()
	due := at.Sub(k.lastTouch) >= keepConfirmedEvery || at.Before(k.lastTouch)
	if due {
		k.touchRev, k.touchAt, k.lastTouch = revision, at, at
	}
	k.mu.Unlock()
	if due {
		k.wake()
	}
}

func (k *keeper) wake() {
	select {
	case k.signal <- struct{}{}:
	default:
	}
}

// keepLoop saves what keep and keepConfirmed queue until ctx ends.
func (a *Authorizer) keepLoop(ctx context.Context) {
	defer a.wg.Done()
	k := &a.keeper
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.signal:
		}
		k.mu.Lock()
		s, at := k.pending, k.pendingAt
		touchRev, touchAt := k.touchRev, k.touchAt
		k.pending, k.touchAt = nil, time.Time{}
		k.mu.Unlock()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		if s != nil {
			if err := a.opts.fallback.SaveSnapshot(sctx, s.model, s.revision, at); err != nil {
				a.opts.logger.Warn("iam: could not save the fallback copy of the policy", "err", err, "revision", s.revision)
			}
		}
		if !touchAt.IsZero() {
			if err := a.opts.fallback.ConfirmSnapshot(sctx, touchRev, touchAt); err != nil {
				a.opts.logger.Warn("iam: could not record that the fallback copy is current", "err", err, "revision", touchRev)
			}
		}
		cancel()
	}
}

// startFromFallback publishes the fallback copy after the store could not
// be read at New (cause).
func (a *Authorizer) startFromFallback(ctx context.Context, cause error) error {
	m, revision, confirmed, err := a.opts.fallback.LoadSnapshot(ctx)
	if err != nil {
		return fmt.Errorf("reading the fallback copy: %w", err)
	}
	p, err := rbac.Compile(m)
	if err != nil {
		return fmt.Errorf("fallback copy at revision %d: %w", revision, err)
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	a.publish(m, p, revision)
	a.fresh.fallback.Store(true)
	a.confirmAt(confirmed)
	a.failed(cause)
	a.fresh.wake()
	return nil
}

// retryLoop asks for a reload with a growing delay for as long as the
// Authorizer serves its fallback copy.
func (a *Authorizer) retryLoop(ctx context.Context) {
	defer a.wg.Done()
	delay := 100 * time.Millisecond
	t := time.NewTimer(delay)
	defer t.Stop()
	for a.fresh.fallback.Load() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.requestReload()
		delay = min(2*delay, 30*time.Second)
		t.Reset(delay)
	}
}
