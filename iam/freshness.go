package iam

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/civic-platform/security/internal/instant"
)

// ErrStale is wrapped by the error a decision returns when the Authorizer
// has not confirmed for longer than its bound ([WithMaxStaleness]) that its
// policy snapshot is current: the store could not be reached, so the
// snapshot may lack a revocation. The decision denies. See [StaleError].
var ErrStale = errors.New("iam: policy snapshot not confirmed current")

// StaleError reports a decision refused because the policy snapshot was
// last confirmed current longer ago than the bound set with
// [WithMaxStaleness]. errors.Is(err, ErrStale) reports true for it.
type StaleError struct {
	// Revision is the revision of the snapshot that was not used.
	Revision int64
	// LastConfirmed is when the snapshot was last confirmed current.
	LastConfirmed time.Time
	// MaxStaleness is the bound that was exceeded.
	MaxStaleness time.Duration
	// At is the instant of the refused decision.
	At time.Time
}

// Error implements the error interface.
func (e *StaleError) Error() string {
	if e.LastConfirmed.IsZero() {
		return fmt.Sprintf("iam: policy revision %d never confirmed current, with a bound of %s; denying until the store is reachable again",
			e.Revision, e.MaxStaleness)
	}
	return fmt.Sprintf("iam: policy revision %d last confirmed current %s ago, more than the bound of %s; denying until the store is reachable again",
		e.Revision, e.At.Sub(e.LastConfirmed).Round(time.Millisecond), e.MaxStaleness)
}

// Is makes errors.Is(err, ErrStale) true.
func (e *StaleError) Is(target error) bool { return target == ErrStale }

// RevisionSource is implemented by a [PolicySource] that can report its
// current revision more cheaply than loading the whole policy
// (adapters/pgstore and adapters/sqlitestore read one row). With
// [WithMaxStaleness], the Authorizer confirms that its snapshot is current
// with Revision and loads the policy only when the revision has moved;
// without it, each confirmation is a full LoadPolicy.
type RevisionSource interface {
	Revision(ctx context.Context) (int64, error)
}

// ConnectionReporter is implemented by a [Notifier] that can say whether it
// is connected to its source of change notifications (adapters/pgnotify's
// Listener is). [Authorizer.Health] reports it.
type ConnectionReporter interface {
	Connected() bool
}

// WatcherState is the state of an Authorizer's [Notifier], as reported by
// [Authorizer.Health].
type WatcherState string

// Watcher states.
const (
	// WatcherNone: no Notifier was configured ([WithNotifier]).
	WatcherNone WatcherState = "none"
	// WatcherRunning: Watch is running; the Notifier does not report
	// whether it is connected (it is not a [ConnectionReporter]).
	WatcherRunning WatcherState = "running"
	// WatcherConnected: the Notifier reports that it is connected.
	WatcherConnected WatcherState = "connected"
	// WatcherReconnecting: Watch is running but the Notifier reports that
	// it is not connected (not yet, or no longer); changes reach the
	// Authorizer only through its confirmation poll until it reconnects.
	WatcherReconnecting WatcherState = "reconnecting"
	// WatcherStopped: Watch has returned, or the Authorizer is closed.
	WatcherStopped WatcherState = "stopped"
)

// Health is a snapshot of how current an Authorizer's policy is, for a
// service's health endpoint and metrics.
type Health struct {
	// Revision is the revision of the policy snapshot in use.
	Revision int64
	// LastConfirmed is when the Authorizer last confirmed that Revision
	// was the store's current revision: a successful reload or
	// confirmation, measured on the Authorizer's clock ([WithClock]), or
	// the confirmation time of the fallback copy it started from. It is
	// zero if nothing was confirmed: a fallback copy's time that is zero or
	// before 2000 confirms nothing, and one in the future counts as the
	// instant it was read.
	LastConfirmed time.Time
	// MaxStaleness is the bound set with [WithMaxStaleness]; 0 means none.
	MaxStaleness time.Duration
	// Stale reports that LastConfirmed is older than MaxStaleness, or zero
	// with a bound set: checks are being refused with [ErrStale].
	Stale bool
	// LastError is the error of the most recent reload or confirmation
	// attempt, or nil if it succeeded. A failed reload keeps the previous
	// snapshot serving.
	LastError error
	// LastErrorAt is when the most recent failure happened; zero if none.
	LastErrorAt time.Time
	// Watcher is the state of the [Notifier].
	Watcher WatcherState
	// Fallback reports that the snapshot in use is the copy kept with
	// [WithFallback], read because the store could not be read at [New],
	// and that the store has not been read since.
	Fallback bool
	// FallbackMismatch is a [*FallbackMismatchError] once the Authorizer,
	// reading the store again after serving its fallback copy, found that
	// the copy was not the store's policy at its revision; nil otherwise.
	// It stays set for the life of the Authorizer.
	FallbackMismatch error
	// FallbackError is the error of the most recent attempt to save the
	// fallback copy or record that it is current ([WithFallback]), or nil
	// if it succeeded.
	FallbackError error
	// Quarantined lists the stored policy rows the snapshot in use was
	// loaded without — written by another tool with a value this module
	// refuses, or without the twin or declaration they need — each with
	// its row id, type, values and the reason. Such a row grants nothing,
	// and the subjects it could make Casbin deny (its Blocks) are denied
	// every check while it stays. Remove one with [Admin.Apply] and a
	// [Change] whose DeleteRows names its id. Empty when every row loaded.
	Quarantined []QuarantinedRow
}

// freshness is the Authorizer's bookkeeping of how current its snapshot is.
type freshness struct {
	// staleAfter is the instant (Unix ns on the Authorizer's clock) after
	// which decisions are refused: last confirmation + bound, or MaxInt64
	// without a bound. The request path reads only this word.
	staleAfter atomic.Int64
	confirmed  atomic.Int64 // Unix ns of the last confirmation
	// published is closed, and replaced, whenever a snapshot is published
	// or the Authorizer closes: WaitForRevision waits on it.
	published atomic.Pointer[chan struct{}]
	// kick asks the refresh loop for a reload; bursts coalesce.
	kick        chan struct{}
	looping     bool        // a refresh loop consumes kick; set in New
	watcherDone atomic.Bool // Notifier.Watch has returned
	fallback    atomic.Bool // serving the WithFallback copy; see Health.Fallback

	mu          sync.Mutex
	lastErr     error
	lastErrAt   time.Time
	mismatch    *FallbackMismatchError // Health.FallbackMismatch
	fallbackErr error                  // Health.FallbackError
}

// init prepares f for an Authorizer whose staleness bound is bound (0:
// none). With a bound, the snapshot is stale until the first confirmation.
func (f *freshness) init(bound time.Duration) {
	f.staleAfter.Store(math.MaxInt64)
	if bound > 0 {
		f.staleAfter.Store(math.MinInt64)
	}
	ch := make(chan struct{})
	f.published.Store(&ch)
	f.kick = make(chan struct{}, 1)
}

// wake releases everyone waiting for a publication.
func (f *freshness) wake() {
	ch := make(chan struct{})
	close(*f.published.Swap(&ch))
}

// confirm records that the snapshot was current at start (the instant the
// confirming read began): the store answered.
func (a *Authorizer) confirm(start time.Time) {
	a.confirmAt(start)
	a.fresh.mu.Lock()
	a.fresh.lastErr = nil
	a.fresh.mu.Unlock()
	a.keepConfirmed(a.Revision(), start)
}

// earliestConfirmation is the earliest confirmation time trusted: an
// earlier one (the zero time, a Unix time of 0, a clock never set) means
// the snapshot was never confirmed.
var earliestConfirmation = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// trustedConfirmation is the instant (Unix ns) that a claimed confirmation
// time t counts for at now: t itself, or now if t is in the future; ok is
// false if it is zero or before 2000, and then it counts for nothing.
func trustedConfirmation(t, now time.Time) (at int64, ok bool) {
	if t.After(now) {
		t = now
	}
	if t.IsZero() || t.Before(earliestConfirmation) {
		return 0, false
	}
	return instant.Of(t), true
}

// confirmAt records that the snapshot was current at t, moving the
// staleness deadline to the latest real confirmation + the bound. A time
// that is zero or before 2000 confirms nothing (with no real confirmation
// yet, the snapshot stays stale); a future time counts as now.
// Confirmations can race (the reload and the confirmation poll run on
// different goroutines), so an earlier instant than the one recorded
// changes nothing, unless the recorded one is in the future (the clock
// was set back): then the new one replaces it, so that no single value,
// however bad, can hold the deadline off.
func (a *Authorizer) confirmAt(t time.Time) {
	now := a.opts.clock()
	at, ok := trustedConfirmation(t, now)
	if !ok {
		return
	}
	a.fresh.mu.Lock()
	defer a.fresh.mu.Unlock()
	if c := a.fresh.confirmed.Load(); c == 0 || at > c || c > instant.Of(now) {
		a.fresh.confirmed.Store(at)
		if b := int64(a.opts.maxStaleness); b > 0 {
			a.fresh.staleAfter.Store(at + min(b, math.MaxInt64-at))
		}
	}
}

// failed records a failed reload or confirmation.
func (a *Authorizer) failed(err error) {
	now := a.opts.clock()
	a.fresh.mu.Lock()
	a.fresh.lastErr, a.fresh.lastErrAt = err, now
	a.fresh.mu.Unlock()
}

// staleError builds the error for a decision refused at instant at.
func (a *Authorizer) staleError(s *snapshot, at int64) error {
	var last time.Time
	if c := a.fresh.confirmed.Load(); c > 0 {
		last = time.Unix(0, c)
	}
	return &StaleError{
		Revision:      s.revision,
		LastConfirmed: last,
		MaxStaleness:  a.opts.maxStaleness,
		At:            time.Unix(0, at),
	}
}

// Health reports the revision in use, when it was last confirmed current,
// whether decisions are being refused as stale, the last reload error and
// the state of the watcher. It takes no lock that checks or reloads hold
// for long and does no I/O.
func (a *Authorizer) Health() Health {
	h := Health{
		Revision:     a.Revision(),
		MaxStaleness: a.opts.maxStaleness,
		Stale:        instant.Of(a.opts.clock()) > a.fresh.staleAfter.Load(),
		Watcher:      WatcherNone,
		Fallback:     a.fresh.fallback.Load(),
	}
	if s := a.snap.Load(); s != nil && s.policy != nil {
		h.Quarantined = s.policy.Quarantine()
	}
	if c := a.fresh.confirmed.Load(); c > 0 {
		h.LastConfirmed = time.Unix(0, c)
	}
	a.fresh.mu.Lock()
	h.LastError, h.LastErrorAt = a.fresh.lastErr, a.fresh.lastErrAt
	if a.fresh.mismatch != nil {
		h.FallbackMismatch = a.fresh.mismatch
	}
	h.FallbackError = a.fresh.fallbackErr
	a.fresh.mu.Unlock()
	if n := a.opts.notifier; n != nil {
		switch cr, ok := n.(ConnectionReporter); {
		case a.closed.Load() || a.fresh.watcherDone.Load():
			h.Watcher = WatcherStopped
		case !ok:
			h.Watcher = WatcherRunning
		case cr.Connected():
			h.Watcher = WatcherConnected
		default:
			h.Watcher = WatcherReconnecting
		}
	}
	return h
}

// WaitForRevision returns once the policy snapshot in use has revision n
// or later, so that a service can read its own writes: pass the revision
// that [Admin.Apply] or the store's writer returned. If the snapshot
// is older it asks for a reload (through the refresh loop when one runs,
// else on the calling goroutine) and waits for a newer snapshot to be
// published, asking again with a backoff of up to a second in case the
// revision was not yet committed. It returns an error wrapping ctx.Err()
// when ctx ends first, and [ErrClosed] if the Authorizer is closed.
func (a *Authorizer) WaitForRevision(ctx context.Context, n int64) error {
	delay := 50 * time.Millisecond
	var t *time.Timer
	for {
		pub := *a.fresh.published.Load() // before reading the revision: no lost wake-up
		if a.closed.Load() {
			return ErrClosed
		}
		cur := a.Revision()
		if cur >= n {
			return nil
		}
		if a.fresh.looping {
			a.requestReload()
		} else if err := a.Reload(ctx); err == nil && a.Revision() >= n {
			return nil
		}
		if t == nil {
			t = time.NewTimer(delay)
			defer t.Stop()
		} else {
			t.Reset(delay)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("iam: wait for revision %d (at %d): %w", n, a.Revision(), ctx.Err())
		case <-pub:
		case <-t.C:
			delay = min(2*delay, time.Second)
		}
	}
}

// requestReload asks the refresh loop for a reload without waiting. A
// request made while one is pending is merged with it.
func (a *Authorizer) requestReload() {
	select {
	case a.fresh.kick <- struct{}{}:
	default:
	}
}

// Timeouts of the refresh loop's reads, so that a hung connection cannot
// stop it.
const (
	reloadTimeout     = time.Minute
	minConfirmTimeout = time.Second
)

// confirmInterval is how often the confirmation poll runs: a quarter of
// the bound, so that three confirmations in a row may fail before checks
// are refused.
func (a *Authorizer) confirmInterval() time.Duration {
	return max(a.opts.maxStaleness/4, 5*time.Millisecond)
}

// confirmRevision asks a [RevisionSource] for the store's revision. If it
// is the snapshot's, the snapshot is confirmed current and moved is false.
// moved is true when a full load is needed: the store has moved on, or the
// source cannot tell its revision cheaply. It takes no lock, so it runs
// while a long reload is in progress.
func (a *Authorizer) confirmRevision(ctx context.Context) (moved bool, err error) {
	rs, ok := a.src.(RevisionSource)
	if !ok {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, max(a.opts.maxStaleness, minConfirmTimeout))
	defer cancel()
	if a.fresh.fallback.Load() {
		return true, nil // leaving fallback takes a full load and a comparison
	}
	cur := a.Revision() // before the read: the store held cur before it began
	start := a.opts.clock()
	rev, err := rs.Revision(ctx)
	switch {
	case err != nil:
		err = fmt.Errorf("iam: confirm revision %d: %w", cur, err)
	case rev < cur:
		err = fmt.Errorf("iam: store is at revision %d, behind the snapshot's revision %d (restored or reset?); not confirming; restart to load it", rev, cur)
	case rev == cur:
		a.confirm(start)
		return false, nil
	default:
		return true, nil
	}
	a.failed(err)
	return false, err
}

// refresh brings the snapshot up to date: a cheap revision check when the
// source allows it, then a full load only if the revision moved. A
// notification about a change this process has already loaded (its own
// Apply) thus costs one small query, not a load.
func (a *Authorizer) refresh(ctx context.Context) error {
	moved, err := a.confirmRevision(ctx)
	if err != nil || !moved {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	defer cancel()
	return a.Reload(ctx)
}

// refreshLoop owns the Notifier's goroutine and, with a staleness bound,
// the confirmation poll's. It refreshes on every kick (from the Notifier,
// the poll or WaitForRevision); kicks that arrive during a refresh merge
// into one more.
func (a *Authorizer) refreshLoop(ctx context.Context) {
	defer a.wg.Done()
	if n := a.opts.notifier; n != nil {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer a.fresh.watcherDone.Store(true)
			err := n.Watch(ctx, a.requestReload)
			if ctx.Err() == nil {
				a.opts.logger.Error("iam: policy watcher stopped; changes now arrive only through the confirmation poll, if any", "err", err)
			}
		}()
	}
	if a.opts.maxStaleness > 0 {
		a.wg.Add(1)
		go a.confirmLoop(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.fresh.kick:
			if err := a.refresh(ctx); err != nil && ctx.Err() == nil {
				a.opts.logger.Warn("iam: reload failed; keeping previous policy", "err", err, "revision", a.Revision())
			}
		}
	}
}

// confirmLoop confirms currency every confirmInterval, on its own
// goroutine so that a long reload does not hold it up, and asks for a
// reload when the revision has moved.
func (a *Authorizer) confirmLoop(ctx context.Context) {
	defer a.wg.Done()
	t := time.NewTicker(a.confirmInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			moved, err := a.confirmRevision(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				a.opts.logger.Warn("iam: could not confirm the policy is current", "err", err, "revision", a.Revision(),
					"stale", instant.Of(a.opts.clock()) > a.fresh.staleAfter.Load())
			case moved:
				a.requestReload()
			}
		}
	}
}
