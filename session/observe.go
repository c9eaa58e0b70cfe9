package session

import "context"

// Observer is told how [Manager.Verify] answered, for metrics (package
// iam/iamotel implements it with OpenTelemetry). Lookup is called on the
// request path, concurrently: it must be quick and must not block.
type Observer interface {
	// Lookup reports one verification: hit is true when it was answered
	// from the process cache, false when it read the store (a miss, or a
	// cached session due for a re-check), ok whether it was accepted.
	Lookup(ctx context.Context, hit, ok bool)
}

// WithObserver reports every verification to o (none by default).
func WithObserver(o Observer) Option { return func(opts *options) { opts.observer = o } }
