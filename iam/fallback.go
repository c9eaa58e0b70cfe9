package iam

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/civic-platform/security/rbac"
)

// SnapshotStore keeps a local copy of the last policy an Authorizer loaded
// from its store, so that the process can start while that store is
// unreachable ([WithFallback]). adapters/sqlitestore's SnapshotStore
// implements it in an embedded SQLite file.
//
// The copy sits outside the policy store's protection (a local file), so
// an implementation must authenticate it: LoadSnapshot returns a copy only
// once it has verified, with a secret key the service supplies, that this
// store wrote that content, revision and confirmation time, and refuses
// anything else with an error (adapters/sqlitestore checks two HMAC-SHA256
// tags and refuses with sqlitestore.ErrSnapshotUnverified). An
// implementation that cannot verify its copies must not be used.
type SnapshotStore interface {
	// SaveSnapshot replaces the kept copy with m at revision, confirmed
	// current at instant confirmed.
	SaveSnapshot(ctx context.Context, m rbac.Model, revision int64, confirmed time.Time) error
	// ConfirmSnapshot records that the kept copy, if it is at revision,
	// was still current at confirmed.
	ConfirmSnapshot(ctx context.Context, revision int64, confirmed time.Time) error
	// LoadSnapshot returns the kept copy, its revision and when it was last
	// confirmed current, after verifying them. It returns an error if no
	// copy is kept or the copy fails verification.
	LoadSnapshot(ctx context.Context) (m rbac.Model, revision int64, confirmed time.Time, err error)
}

// WithFallback keeps a copy of the policy in s and starts from it when the
// store cannot be read at [New]. s must authenticate the copy (see
// [SnapshotStore]); with adapters/sqlitestore, make it with
// sqlitestore.NewSnapshotStore, which demands a key.
//
// After each load of a new revision the Authorizer saves the policy to s
// from a background goroutine (bursts of changes coalesce into one save of
// the newest), and while nothing changes it records in s, at most once per
// minute, that the copy is still current; [Health.FallbackError] reports
// the last failure to do so. If [New] cannot load the policy from its
// source, it starts from the copy instead of failing: [Health.Fallback] is
// true, [Health.LastError] says why the store could not be read, and the
// Authorizer keeps trying the store (with a backoff of up to 30 s, and on
// every notification) until it can read it. New still fails, with both
// errors, when the copy cannot be read, fails verification or does not
// compile: such a copy is never served.
//
// Leaving fallback mode always reads the whole policy from the store and
// compares it with the copy, whatever the revisions. The store's policy
// wins. If the store is at the copy's revision with different content, or
// at a lower revision, the Authorizer reports it as a
// [*FallbackMismatchError] in [Health.FallbackMismatch], logs it at error
// level and emits an [EventFallbackMismatch] event: the copy was not what
// the store holds.
//
// The copy counts as confirmed current when it was last confirmed, not
// when it was read; a confirmation time that is zero or before 2000 counts
// as never confirmed, and one in the future as now. With
// [WithMaxStaleness], checks made from a copy older than the bound fail
// closed with [ErrStale] until the store is back.
func WithFallback(s SnapshotStore) Option { return func(o *options) { o.fallback = s } }

// ErrFallbackMismatch is wrapped by [*FallbackMismatchError].
var ErrFallbackMismatch = errors.New("iam: fallback copy differs from the store")

// FallbackMismatchError reports that the policy copy an Authorizer served
// in fallback mode ([WithFallback]) was not the store's: when the store
// could be read again it held different content at the copy's revision, or
// was at a lower revision. The store's policy replaced the copy.
// errors.Is(err, ErrFallbackMismatch) reports true for it.
type FallbackMismatchError struct {
	// CopyRevision is the revision the copy claimed.
	CopyRevision int64
	// StoreRevision is the revision read from the store.
	StoreRevision int64
	// At is when the difference was found (the Authorizer's clock).
	At time.Time
}

// Error implements the error interface.
func (e *FallbackMismatchError) Error() string {
	if e.StoreRevision == e.CopyRevision {
		return fmt.Sprintf("iam: the fallback copy served at revision %d differs from the store's policy at that revision; the store's policy replaced it", e.CopyRevision)
	}
	return fmt.Sprintf("iam: the fallback copy served at revision %d is ahead of the store (revision %d); the store's policy replaced it", e.CopyRevision, e.StoreRevision)
}

// Is makes errors.Is(err, ErrFallbackMismatch) true.
func (e *FallbackMismatchError) Is(target error) bool { return target == ErrFallbackMismatch }

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
		var err error
		if s != nil {
			if err = a.opts.fallback.SaveSnapshot(sctx, s.model, s.revision, at); err != nil {
				a.opts.logger.Warn("iam: could not save the fallback copy of the policy", "err", err, "revision", s.revision)
			}
		}
		if !touchAt.IsZero() && err == nil {
			if err = a.opts.fallback.ConfirmSnapshot(sctx, touchRev, touchAt); err != nil {
				a.opts.logger.Warn("iam: could not record that the fallback copy is current", "err", err, "revision", touchRev)
			}
		}
		cancel()
		if s != nil || !touchAt.IsZero() {
			a.fresh.mu.Lock()
			a.fresh.fallbackErr = err
			a.fresh.mu.Unlock()
		}
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
	a.confirmAt(confirmed) // a zero, ancient or future time is not trusted
	a.failed(cause)
	a.fresh.wake()
	return nil
}

// leaveFallback publishes what a full load from the store returned (m,
// compiled to p, at revision) in place of the fallback copy cur, the
// store having been read at start. The store's policy wins; a copy that
// was not the store's policy at its revision is reported. The caller
// holds reloadMu.
func (a *Authorizer) leaveFallback(ctx context.Context, cur *snapshot, m rbac.Model, p *rbac.Policy, revision int64, start time.Time) error {
	var mismatch *FallbackMismatchError
	switch {
	case revision == cur.revision && sameContent(cur.model, m):
		// The copy was the store's policy: keep the snapshot and its cache.
		a.confirm(start)
		a.fresh.fallback.Store(false)
		a.opts.logger.Info("iam: store reachable again; the fallback copy matched it", "revision", revision)
		a.fresh.wake()
		return nil
	case revision <= cur.revision:
		mismatch = &FallbackMismatchError{CopyRevision: cur.revision, StoreRevision: revision, At: a.opts.clock()}
	}
	if p == nil {
		var err error
		if p, err = rbac.Compile(m); err != nil {
			err = fmt.Errorf("revision %d: %w", revision, err)
			a.failed(err)
			return err
		}
	}
	a.keep(a.publish(m, p, revision), start)
	a.confirm(start)
	// The mismatch is reported (Health, log, event) before Health says
	// the fallback copy is left, so whoever sees the one sees the other.
	if mismatch != nil {
		a.fresh.mu.Lock()
		a.fresh.mismatch = mismatch
		a.fresh.mu.Unlock()
		a.opts.logger.Error("iam: the fallback copy that was served is not the store's policy; the store's policy replaced it",
			"copy_revision", mismatch.CopyRevision, "store_revision", mismatch.StoreRevision)
		a.emit(ctx, Event{Type: EventFallbackMismatch, Revision: revision, Time: mismatch.At, Detail: map[string]string{
			"copy_revision":  strconv.FormatInt(mismatch.CopyRevision, 10),
			"store_revision": strconv.FormatInt(mismatch.StoreRevision, 10),
		}})
	}
	a.fresh.fallback.Store(false)
	a.fresh.wake()
	return nil
}

// sameContent reports whether a and b hold the same policy, whatever the
// order of their elements: roles, grants, memberships, scopes, conflict
// rules, waivers, labels and reasons ([rbac.Model.Digest]).
func sameContent(a, b rbac.Model) bool { return a.Digest() == b.Digest() }

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
