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
// (adapters/pgstore and adapters/sqlitestore read one row). [New] looks
// for it once, on the source it is given: over a RevisionSource the
// Authorizer keeps itself current with no further options, polling
// Revision every [DefaultPollInterval] and loading the policy only when
// the revision has moved, and fails closed with [ErrStale] once it could
// not confirm for [DefaultMaxStaleness].
//
// A source that is not a RevisionSource (an in-memory store such as
// adapters/memstore, or a wrapper around a store that does not pass
// Revision through) gets no poll and no default bound, because confirming
// it would mean loading the whole policy every second; [Authorizer.Health]
// says so (RevisionSource false, PollInterval 0, MaxStaleness 0), and
// [WithMaxStaleness] still sets a bound, confirmed by full loads. The
// capability is a method rather than part of [PolicySource] so that a
// source can stay one method; a wrapper around a store should implement
// Revision by calling the store's, and a test of the wrapper should check
// Health.RevisionSource.
type RevisionSource interface {
	Revision(ctx context.Context) (int64, error)
}

// ConnectionReporter is implemented by a [Notifier] that can say whether it
// is connected to its source of change notifications (adapters/pgnotify's
// Listener is). [Authorizer.Health] reports it, and while it reports no
// connection the Authorizer polls the store's revision at the poll
// interval ([WithPollInterval]) instead of leaving changes to the
// Notifier. A Notifier that is not a ConnectionReporter (a wrapper that
// hides Connected) is taken as connected while its Watch runs: Health
// shows [WatcherRunning] rather than [WatcherConnected], and the staleness
// bound is still confirmed every quarter of the bound, so nothing is
// served unconfirmed for longer than the bound either way.
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
// service's health endpoint and metrics. Its JSON form has the lower-case
// keys in the field tags: times in RFC 3339, durations as seconds (a
// number, with a _seconds suffix on the key), errors as their messages
// (omitted when nil).
type Health struct {
	// Revision is the revision of the policy snapshot in use.
	Revision int64 `json:"revision"`
	// Behind is how far behind the store the snapshot may be: the time
	// since LastConfirmed, on the Authorizer's clock. A change committed
	// by another process within that time may not be in the snapshot yet;
	// nothing older is missing. It is 0 when nothing was ever confirmed
	// (LastConfirmed is zero), and then Stale is true if a bound is set.
	Behind time.Duration `json:"behind_seconds"`
	// PollInterval is how often the store's revision is read to find
	// other processes' changes ([WithPollInterval]); 0 means no poll.
	// With a [Notifier] that runs, the poll gives way to it.
	PollInterval time.Duration `json:"poll_interval_seconds"`
	// RevisionSource reports whether the source can report its revision
	// cheaply ([RevisionSource]). When false there is no poll and no
	// default staleness bound: a wrapper that hides its store's Revision
	// shows up here.
	RevisionSource bool `json:"revision_source"`
	// LastConfirmed is when the Authorizer last confirmed that Revision
	// was the store's current revision: a successful reload or
	// confirmation, measured on the Authorizer's clock ([WithClock]), or
	// the confirmation time of the fallback copy it started from. It is
	// zero if nothing was confirmed: a fallback copy's time that is zero or
	// before 2000 confirms nothing, and one in the future counts as the
	// instant it was read.
	LastConfirmed time.Time `json:"last_confirmed,omitempty"`
	// MaxStaleness is the staleness bound ([WithMaxStaleness],
	// [DefaultMaxStaleness] over a [RevisionSource]); 0 means none.
	MaxStaleness time.Duration `json:"max_staleness_seconds"`
	// Stale reports that LastConfirmed is older than MaxStaleness, or zero
	// with a bound set: checks are being refused with [ErrStale].
	Stale bool `json:"stale"`
	// LastError is the error of the most recent reload or confirmation
	// attempt, or nil if it succeeded. A failed reload keeps the previous
	// snapshot serving.
	LastError error `json:"last_error,omitempty"`
	// LastErrorAt is when the most recent failure happened; zero if none.
	LastErrorAt time.Time `json:"last_error_at,omitempty"`
	// Watcher is the state of the [Notifier].
	Watcher WatcherState `json:"watcher"`
	// Fallback reports that the snapshot in use is the copy kept with
	// [WithFallback], read because the store could not be read at [New],
	// and that the store has not been read since.
	Fallback bool `json:"fallback"`
	// FallbackMismatch is a [*FallbackMismatchError] once the Authorizer,
	// reading the store again after serving its fallback copy, found that
	// the copy was not the store's policy at its revision; nil otherwise.
	// It stays set for the life of the Authorizer.
	FallbackMismatch error `json:"fallback_mismatch,omitempty"`
	// FallbackError is the error of the most recent attempt to save the
	// fallback copy or record that it is current ([WithFallback]), or nil
	// if it succeeded.
	FallbackError error `json:"fallback_error,omitempty"`
	// Quarantined lists the stored policy rows the snapshot in use was
	// loaded without — written by another tool with a value this module
	// refuses, or without the twin or declaration they need — each with
	// its row id, type, values and the reason. Such a row grants nothing,
	// and the subjects it could make Casbin deny (its Blocks) are denied
	// every check while it stays. Remove one with [Admin.Apply] and a
	// [Change] whose DeleteRows names its id. Empty when every row loaded.
	Quarantined []QuarantinedRow `json:"quarantined,omitempty"`
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
	kick chan struct{}
	// revisions is the source as a RevisionSource, or nil: found once in
	// New (initFreshness).
	revisions   RevisionSource
	looping     bool        // a refresh loop consumes kick; set in New
	watcherDone atomic.Bool // Notifier.Watch has returned
	fallback    atomic.Bool // serving the WithFallback copy; see Health.Fallback

	// syncMu serialises the confirmations decisions make themselves
	// (reconfirm); syncFailed is when the last one failed.
	syncMu     sync.Mutex
	syncFailed time.Time

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

// initFreshness resolves, for the Authorizer's source, the poll interval
// and the staleness bound the options left to their defaults, and
// prepares the bookkeeping. New calls it before the first load.
func (a *Authorizer) initFreshness() {
	o := &a.opts
	rs, ok := a.src.(RevisionSource)
	if ok {
		a.fresh.revisions = rs
		if !o.stalenessSet {
			o.maxStaleness = DefaultMaxStaleness
		}
		if !o.pollSet {
			o.pollInterval = DefaultPollInterval
		}
	} else {
		o.pollInterval = 0 // polling would load the whole policy
		if o.notifier == nil && !o.stalenessSet {
			o.logger.Debug("iam: the policy source cannot report its revision (not an iam.RevisionSource), so the Authorizer has no revision poll and no staleness bound; other processes' changes arrive only through Reload")
		}
	}
	a.fresh.init(o.maxStaleness)
}

// needsRefreshLoop reports whether New starts the refresh loop: something
// (a Notifier, the poll, the staleness bound, the fallback's retry) will
// ask for reloads.
func (a *Authorizer) needsRefreshLoop() bool {
	return a.opts.notifier != nil || a.opts.maxStaleness > 0 || a.opts.pollInterval > 0 || a.fresh.fallback.Load()
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
	now := instant.Of(a.opts.clock())
	h := Health{
		Revision:       a.Revision(),
		PollInterval:   a.opts.pollInterval,
		RevisionSource: a.fresh.revisions != nil,
		MaxStaleness:   a.opts.maxStaleness,
		Stale:          now > a.fresh.staleAfter.Load(),
		Watcher:        WatcherNone,
		Fallback:       a.fresh.fallback.Load(),
	}
	if s := a.snap.Load(); s != nil && s.policy != nil {
		h.Quarantined = s.policy.Quarantine()
	}
	if c := a.fresh.confirmed.Load(); c > 0 {
		h.LastConfirmed = time.Unix(0, c)
		h.Behind = time.Duration(max(now-c, 0))
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

// Limits of the confirmation a decision makes itself (reconfirm).
const (
	syncConfirmTimeout = time.Second
	syncConfirmRetry   = 250 * time.Millisecond
)

// reconfirm is called by a decision that found the snapshot past its
// staleness deadline. Over a [RevisionSource] it reads the store's
// revision once, on the calling goroutine, before the decision fails
// closed: if the revision is the snapshot's, the snapshot is confirmed
// current and the decision goes ahead. This covers the moment between a
// jump of the clock (a test's, or the wall clock's after a suspend) and
// the next poll; a store that does not answer within a second, or has
// moved on, leaves the decision refused ([ErrStale]; a reload is
// requested when the revision moved). Concurrent decisions wait for one
// read, and after a failed read the next one is tried no sooner than a
// quarter of a second later, so that an unreachable store is not asked
// once per request. It reports whether the snapshot is now within its
// deadline.
func (a *Authorizer) reconfirm() bool {
	if a.fresh.revisions == nil || a.fresh.fallback.Load() || a.closed.Load() {
		return false
	}
	a.fresh.syncMu.Lock()
	defer a.fresh.syncMu.Unlock()
	if instant.Of(a.opts.clock()) <= a.fresh.staleAfter.Load() {
		return true // another decision, or the poll, confirmed meanwhile
	}
	if f := a.fresh.syncFailed; !f.IsZero() && time.Since(f) < syncConfirmRetry {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), syncConfirmTimeout)
	defer cancel()
	moved, err := a.confirmRevision(ctx)
	if err != nil || moved {
		a.fresh.syncFailed = time.Now()
		if moved {
			a.requestReload()
		}
		return false
	}
	a.fresh.syncFailed = time.Time{}
	return instant.Of(a.opts.clock()) <= a.fresh.staleAfter.Load()
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

// minConfirmEvery is the shortest interval between two confirmations.
const minConfirmEvery = 5 * time.Millisecond

// confirmEvery is how long the confirmation poll waits after one
// confirmation before the next: the poll interval while no Notifier
// delivers changes (none is given, or it is down), else a quarter of the
// staleness bound (so that three confirmations in a row may fail before
// checks are refused), whichever is shorter; 0 means none is due.
func (a *Authorizer) confirmEvery() time.Duration {
	var every time.Duration
	if a.opts.maxStaleness > 0 {
		every = max(a.opts.maxStaleness/4, minConfirmEvery)
	}
	if p := a.opts.pollInterval; p > 0 && !a.notified() && (every == 0 || p < every) {
		every = max(p, minConfirmEvery)
	}
	return every
}

// tickEvery is the confirmation poll's tick: the shortest interval
// confirmEvery can return, so that the poll speeds up at the next tick
// when a Notifier goes down.
func (a *Authorizer) tickEvery() time.Duration {
	tick := time.Duration(math.MaxInt64)
	if a.opts.maxStaleness > 0 {
		tick = max(a.opts.maxStaleness/4, minConfirmEvery)
	}
	if p := a.opts.pollInterval; p > 0 {
		tick = min(tick, max(p, minConfirmEvery))
	}
	return tick
}

// notified reports whether a Notifier is delivering changes: one was
// given, its Watch is running, and, if it reports its connection
// ([ConnectionReporter]), it is connected.
func (a *Authorizer) notified() bool {
	n := a.opts.notifier
	if n == nil || a.fresh.watcherDone.Load() {
		return false
	}
	if cr, ok := n.(ConnectionReporter); ok {
		return cr.Connected()
	}
	return true
}

// confirmTimeout bounds one confirming read: the staleness bound or four
// poll intervals, whichever is shorter, and at least a second.
func (a *Authorizer) confirmTimeout() time.Duration {
	d := time.Duration(math.MaxInt64)
	if b := a.opts.maxStaleness; b > 0 {
		d = b
	}
	if p := a.opts.pollInterval; p > 0 {
		d = min(d, 4*p)
	}
	if d == math.MaxInt64 {
		d = reloadTimeout
	}
	return max(d, minConfirmTimeout)
}

// confirmRevision asks a [RevisionSource] for the store's revision. If it
// is the snapshot's, the snapshot is confirmed current and moved is false.
// moved is true when a full load is needed: the store has moved on, or the
// source cannot tell its revision cheaply. It takes no lock, so it runs
// while a long reload is in progress.
func (a *Authorizer) confirmRevision(ctx context.Context) (moved bool, err error) {
	rs := a.fresh.revisions
	if rs == nil {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.confirmTimeout())
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

// refreshLoop owns the Notifier's goroutine and, with a poll or a
// staleness bound, the confirmation poll's. It refreshes on every kick (from the Notifier,
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
	if a.opts.maxStaleness > 0 || a.opts.pollInterval > 0 {
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

// confirmLoop confirms currency every confirmEvery (the poll interval,
// or a quarter of the bound while a Notifier delivers changes), on its own
// goroutine so that a long reload does not hold it up, and asks for a
// reload when the revision has moved. A failure is logged when it starts
// and then at most once a minute while it lasts, and the recovery once.
func (a *Authorizer) confirmLoop(ctx context.Context) {
	defer a.wg.Done()
	t := time.NewTicker(a.tickEvery())
	defer t.Stop()
	var (
		last     = time.Now() // last confirmation attempt (New has just loaded)
		failing  bool
		reported time.Time // last failure logged
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		every := a.confirmEvery()
		if every == 0 || time.Since(last) < every-every/8 { // slack for tick jitter
			continue
		}
		last = time.Now()
		moved, err := a.confirmRevision(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing || time.Since(reported) >= time.Minute {
				a.opts.logger.Warn("iam: could not confirm the policy is current", "err", err, "revision", a.Revision(),
					"stale", instant.Of(a.opts.clock()) > a.fresh.staleAfter.Load())
				reported = time.Now()
			}
			failing = true
		case err == nil && failing:
			failing = false
			a.opts.logger.Info("iam: policy confirmed current again", "revision", a.Revision())
			if moved {
				a.requestReload()
			}
		case moved:
			a.requestReload()
		}
	}
}
