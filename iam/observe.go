package iam

import (
	"context"
	"time"
)

// Observer is told about decisions and reloads, for metrics and traces
// (package iam/iamotel implements it with OpenTelemetry). Its methods are
// called on the request path, concurrently, after the work is done: they
// must be quick, must not block and must not keep ctx.
type Observer interface {
	// Decision reports a decision of [Authorizer.Check] (and so of
	// [Authorizer.Require]), of each request of [Authorizer.CheckMany]
	// (took is the batch's time shared out) or of [Authorizer.CheckRecord]:
	// its permission, result, error and how long it took.
	Decision(ctx context.Context, perm Permission, d Decision, err error, took time.Duration)
	// Reload reports a call of [Authorizer.Reload] (the watcher's and the
	// confirmation poll's included): the revision in use after it, its
	// error and how long it took.
	Reload(ctx context.Context, revision int64, err error, took time.Duration)
}

// WithObserver reports every decision and reload to o. Without it nothing
// is measured and a check costs what it costs without one (no clock read,
// no allocation).
func WithObserver(o Observer) Option { return func(opts *options) { opts.observer = o } }
