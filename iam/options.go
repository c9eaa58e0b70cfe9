package iam

import (
	"context"
	"log/slog"
	"time"
)

// An Option configures an Authorizer in [New].
type Option func(*options)

type options struct {
	clock     func() time.Time
	cacheSize int
	logger    *slog.Logger
	notifier  Notifier
	audit     AuditSink
	// maxStaleness bounds how long decisions use a snapshot not
	// confirmed current: 0 until New resolves it (the default for the
	// source, or none), then > 0 for a bound or 0 for none.
	maxStaleness time.Duration
	// stalenessSet: WithMaxStaleness gave a bound or NoStalenessBound.
	stalenessSet bool
	// pollInterval is how often the revision is polled: 0 until New
	// resolves it, then > 0, or 0 for no poll.
	pollInterval time.Duration
	pollSet      bool          // WithPollInterval gave an interval or NoPoll
	fallback     SnapshotStore // WithFallback; nil: none
	mfa          mfaRule       // WithMFARequired
	observer     Observer      // WithObserver; nil: none
}

func defaultOptions() options {
	return options{
		clock:     time.Now,
		cacheSize: 50_000,
		logger:    slog.Default(),
		audit:     AuditFunc(func(context.Context, Event) error { return nil }),
	}
}

// WithClock sets the clock that decides which temporary grants are in force.
// Tests pin it; the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.clock = now
		}
	}
}

// WithSubjectCache sizes the cache each policy snapshot keeps of what a
// subject's grants mean for a permission under a [Scoper] (default 50,000
// entries per Scoper, used by [Authorizer.Filter] and
// [Authorizer.CheckRecord]), and of the paths recorded for checks made under
// emergency access. n <= 0 turns caching off. Checks are always answered
// from the compiled policy's indexes, without a lock or an allocation: a
// cache in front of them measured no faster.
func WithSubjectCache(n int) Option { return func(o *options) { o.cacheSize = n } }

// WithLogger sets where reload failures and watcher errors are reported.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithNotifier makes the Authorizer reload when n reports a change (for
// PostgreSQL, adapters/pgnotify's Listener: LISTEN/NOTIFY). Bursts of
// changes coalesce into at most one pending reload. The Notifier replaces
// the one-second revision poll while it runs; the staleness bound is still
// confirmed every quarter of the bound (see [WithPollInterval]).
func WithNotifier(n Notifier) Option { return func(o *options) { o.notifier = n } }

// WithAuditSink sets where domain events go. The default drops them.
func WithAuditSink(s AuditSink) Option {
	return func(o *options) {
		if s != nil {
			o.audit = s
		}
	}
}

// Defaults for keeping an Authorizer current across processes, used by
// [New] over a source that reports its revision ([RevisionSource]; the
// stores in adapters/pgstore and adapters/sqlitestore do).
const (
	// DefaultPollInterval is how often the Authorizer reads the store's
	// revision (one small query) to find changes made by other processes
	// when no [Notifier] is given: a change reaches it within about a
	// second and a half, for a cost of one row read a second per process.
	// Change it with [WithPollInterval].
	DefaultPollInterval = time.Second
	// DefaultMaxStaleness is how long the Authorizer answers from a
	// snapshot it could not confirm current before it fails closed with
	// [ErrStale]. Thirty seconds is thirty missed polls (or four missed
	// confirmations with a Notifier): long enough to ride out a network
	// blip or a database restart without refusing every request, short
	// enough that a process cut off from the store stops honouring a
	// revoked grant within half a minute. Change it with
	// [WithMaxStaleness]; disable it with [NoStalenessBound].
	DefaultMaxStaleness = 30 * time.Second
)

// NoStalenessBound, passed to [WithMaxStaleness], sets no staleness bound:
// the Authorizer answers from its snapshot however long the store stays
// unreachable. Any negative duration means the same.
const NoStalenessBound time.Duration = -1

// NoPoll, passed to [WithPollInterval], turns off the revision poll: other
// processes' changes then arrive only through a [Notifier] and
// [Authorizer.Reload]. Any negative duration means the same.
const NoPoll time.Duration = -1

// WithMaxStaleness sets how long the Authorizer may answer from a snapshot
// it could not confirm current: once d has passed since the last
// successful reload or confirmation, [Authorizer.Check],
// [Authorizer.CheckMany], [Authorizer.Require] and every other method that
// reads the policy return a [*StaleError] (errors.Is(err, ErrStale)) and
// deny, instead of answering from a snapshot that may lack a revocation.
// Once the store is reachable again the Authorizer resyncs and recovers on
// its own.
//
// Over a [RevisionSource] the bound defaults to [DefaultMaxStaleness] (30
// s). d < 0 ([NoStalenessBound]) sets no bound; d == 0 keeps the default.
// Over a source that cannot report its revision there is no bound unless
// one is set here, because nothing cheap could confirm it; with one set,
// each confirmation is a full LoadPolicy, and when it fails the Authorizer
// fails closed like any other.
//
// To stay confirmed while nothing changes, the Authorizer confirms at
// least every d/4 (and every poll interval without a Notifier; see
// [WithPollInterval]) from a goroutine that [Authorizer.Close] stops.
// Staleness is measured on the clock set with [WithClock]; the deadline
// is the latest real confirmation + d, where a confirmation time that is
// zero or before 2000 counts for nothing (before the first real one the
// snapshot is stale) and one in the future counts as now.
func WithMaxStaleness(d time.Duration) Option {
	return func(o *options) {
		switch {
		case d < 0:
			o.maxStaleness, o.stalenessSet = 0, true
		case d > 0:
			o.maxStaleness, o.stalenessSet = d, true
		default:
			o.maxStaleness, o.stalenessSet = 0, false
		}
	}
}

// WithPollInterval sets how often the Authorizer reads the store's
// revision to find changes made by other processes and to confirm that its
// snapshot is current (one small query; a full load only when the revision
// moved). The default, over a [RevisionSource], is [DefaultPollInterval]
// (1 s). With a [Notifier] the poll gives way to it: while the Notifier
// runs (and, if it is a [ConnectionReporter], reports itself connected)
// the Authorizer reads the revision only as often as the staleness bound
// needs (every quarter of it), and it polls at this interval again while
// the Notifier is down. d < 0 ([NoPoll]) turns the poll off; d == 0 keeps
// the default. A staleness bound still confirms every quarter of the
// bound, poll or not. Over a source that cannot report its revision there
// is no poll: polling it would load the whole policy each time.
func WithPollInterval(d time.Duration) Option {
	return func(o *options) {
		switch {
		case d < 0:
			o.pollInterval, o.pollSet = 0, true
		case d > 0:
			o.pollInterval, o.pollSet = d, true
		default:
			o.pollInterval, o.pollSet = 0, false
		}
	}
}
