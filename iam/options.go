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
	// confirmed current; 0: no bound.
	maxStaleness time.Duration
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

// WithNotifier makes the Authorizer reload when n reports a change. Bursts
// of changes coalesce into at most one pending reload.
func WithNotifier(n Notifier) Option { return func(o *options) { o.notifier = n } }

// WithAuditSink sets where domain events go. The default drops them.
func WithAuditSink(s AuditSink) Option {
	return func(o *options) {
		if s != nil {
			o.audit = s
		}
	}
}

// WithMaxStaleness makes the Authorizer fail closed when it cannot confirm
// that its policy is current: once d has passed since the last successful
// reload or confirmation, [Authorizer.Check], [Authorizer.CheckMany],
// [Authorizer.Require] and every other method that reads the policy return
// a [*StaleError] (errors.Is(err, ErrStale)) and deny, instead of answering
// from a snapshot that may lack a revocation. Once the store is reachable
// again the Authorizer resyncs and recovers on its own.
//
// To stay confirmed while nothing changes, the Authorizer polls the store
// every d/4 from a goroutine that [Authorizer.Close] stops: one small query
// when the source is a [RevisionSource], a full load otherwise. Staleness
// is measured on the clock set with [WithClock]; the deadline is the
// latest real confirmation + d, where a confirmation time that is zero or
// before 2000 counts for nothing (before the first real one the snapshot is
// stale) and one in the future counts as now. d <= 0 (the default) sets no
// bound: a snapshot serves until a newer one replaces it.
func WithMaxStaleness(d time.Duration) Option {
	return func(o *options) { o.maxStaleness = max(d, 0) }
}
