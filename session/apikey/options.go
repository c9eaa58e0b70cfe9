package apikey

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// Policy is what a Manager asks of the authorization policy; an
// *iam.Authorizer is one. Every use of a key is decided through Check on
// the live policy, never from anything stored with the key; View gives the
// account's grants (through reports.Assignments) when a key is narrowed.
type Policy interface {
	Check(ctx context.Context, sub rbac.Subject, perm rbac.Permission, scope rbac.Scope) (iam.Decision, error)
	Permissions(ctx context.Context, sub rbac.Subject, scope rbac.Scope) ([]rbac.Permission, error)
	View() *iam.View
}

// GrantRevoker revokes grants; an *iam.Admin is one. Given with
// [WithGrantRevoker], it lets DeleteAccount revoke the account's own
// grants.
type GrantRevoker interface {
	Revoke(ctx context.Context, k rbac.GrantKey, reason string) (int64, error)
}

// Defaults.
const (
	DefaultOverlap       = 7 * 24 * time.Hour
	DefaultFlushInterval = time.Minute
	DefaultCacheSize     = 10_000
	DefaultMaxStaleness  = 5 * time.Second
	// MinHashKey is the shortest server key for the secret HMAC, in bytes.
	MinHashKey = 32
)

type options struct {
	now       func() time.Time
	overlap   time.Duration
	flush     time.Duration
	cacheSize int
	staleness time.Duration
	feed      Feed
	sink      iam.AuditSink
	logger    *slog.Logger
	revoker   GrantRevoker
}

func defaultOptions() options {
	return options{now: time.Now, overlap: DefaultOverlap, flush: DefaultFlushInterval,
		cacheSize: DefaultCacheSize, staleness: DefaultMaxStaleness, logger: slog.New(slog.DiscardHandler)}
}

func (o options) check() error {
	switch {
	case o.now == nil:
		return fmt.Errorf("%w: nil clock", ErrInvalidInput)
	case o.overlap < 0:
		return fmt.Errorf("%w: negative overlap", ErrInvalidInput)
	case o.flush <= 0:
		return fmt.Errorf("%w: flush interval must be positive", ErrInvalidInput)
	case o.cacheSize <= 0:
		return fmt.Errorf("%w: cache size must be positive", ErrInvalidInput)
	case o.staleness <= 0:
		return fmt.Errorf("%w: staleness bound must be positive", ErrInvalidInput)
	}
	return nil
}

// Option configures a Manager.
type Option func(*options)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithOverlap sets how long a rotated key keeps working after Rotate
// (default 7 days).
func WithOverlap(d time.Duration) Option { return func(o *options) { o.overlap = d } }

// WithFlushInterval sets how often last-use times are written to the
// store (default one minute); the stored LastUsed is accurate to it.
func WithFlushInterval(d time.Duration) Option { return func(o *options) { o.flush = d } }

// WithCache sets the number of verified keys kept in the process cache
// (default 10,000).
func WithCache(n int) Option { return func(o *options) { o.cacheSize = n } }

// WithFeed shares invalidations with other processes. Without a feed a
// Manager sees its own changes at once and another process's after at
// most the staleness bound, since it serves a cached key only that long
// after reading it from the store.
func WithFeed(f Feed) Option { return func(o *options) { o.feed = f } }

// WithMaxStaleness bounds how long cached keys are served while the feed
// is not confirmed connected, or, without a feed, after they were read
// (default 5 s); after it, a verification reads the store.
func WithMaxStaleness(d time.Duration) Option { return func(o *options) { o.staleness = d } }

// WithGrantRevoker makes DeleteAccount revoke the account's own grants
// through r (an *iam.Admin) before it deletes the account. Without it the
// grants stay in the policy, where they grant nothing once the account
// and its keys are gone, and an access review still lists them.
func WithGrantRevoker(r GrantRevoker) Option { return func(o *options) { o.revoker = r } }

// WithEventSink sends events to s; an iam.AuditSink.
func WithEventSink(s iam.AuditSink) Option { return func(o *options) { o.sink = s } }

// WithLogger sets the logger for flush and feed failures.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }
