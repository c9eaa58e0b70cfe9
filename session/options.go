package session

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/civic-platform/security/iam"
)

// Event types a [Manager] emits.
//
//	session.started  detail: session, methods, level, mfa
//	session.ended    detail: session, reason (logout, logout-everywhere,
//	                 revoked, mfa-completed)
//
// The event's Subject is the session's subject. Events never carry a token.
const (
	EventStarted = "session.started"
	EventEnded   = "session.ended"
)

// Reasons a session ended, in the "reason" detail of [EventEnded].
const (
	ReasonLogout           = "logout"
	ReasonLogoutEverywhere = "logout-everywhere"
	ReasonRevoked          = "revoked"
	ReasonMFACompleted     = "mfa-completed"
)

// EventSink receives the Manager's events. The event type is the module's
// domain event, which package iam re-exports as iam.Event, so iam.AuditSink
// satisfies EventSink and iam's sinks (SlogSink, Tee, iamtest.Recorder, the
// outbox) work here. Record is called on
// the request path after the change is made; an error is logged, not
// returned to the caller, because the change has happened.
type EventSink interface {
	Record(ctx context.Context, e iam.Event) error
}

// An Option configures a [Manager] in [New].
type Option func(*options)

type options struct {
	issuer, audience string
	leeway           time.Duration
	now              func() time.Time
	idle, lifetime   time.Duration
	cacheSize        int
	staleness        time.Duration
	epochs           EpochStore
	events           EventSink
	logger           *slog.Logger
	observer         Observer // WithObserver; nil: none
}

func defaultOptions() options {
	return options{
		issuer:    "civic-security",
		audience:  "civic-platform",
		leeway:    5 * time.Second,
		now:       time.Now,
		idle:      30 * time.Minute,
		lifetime:  12 * time.Hour,
		cacheSize: 10_000,
		staleness: 5 * time.Second,
		logger:    slog.Default(),
	}
}

// MaxLeeway is the largest clock-skew allowance [WithLeeway] accepts.
const MaxLeeway = 5 * time.Minute

// WithIssuer sets the iss claim written and required ("civic-security" by
// default).
func WithIssuer(iss string) Option { return func(o *options) { o.issuer = iss } }

// WithAudience sets the aud claim written and required: the one audience a
// token may name ("civic-platform" by default). Give each group of services
// that shares sessions its own.
func WithAudience(aud string) Option { return func(o *options) { o.audience = aud } }

// WithLeeway allows for clock skew in exp, nbf and iat (5 s by default, at
// most [MaxLeeway]). It does not extend a session's server-side lifetime.
func WithLeeway(d time.Duration) Option { return func(o *options) { o.leeway = d } }

// WithClock sets the clock (time.Now by default).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithIdleTimeout ends a session not refreshed for d (30 min by default;
// zero: no idle timeout).
func WithIdleTimeout(d time.Duration) Option { return func(o *options) { o.idle = d } }

// WithAbsoluteLifetime ends every session d after sign-in, however used
// (12 h by default). It is also the token's exp.
func WithAbsoluteLifetime(d time.Duration) Option { return func(o *options) { o.lifetime = d } }

// WithCache keeps up to n verified sessions in this process, keyed by a
// SHA-256 digest of the token, so that a token's signature is verified once
// per process (10,000 by default; n <= 0 turns the cache off and every
// Verify reads the store).
func WithCache(n int) Option { return func(o *options) { o.cacheSize = n } }

// WithMaxStaleness bounds how long cached sessions are served while the
// store's change feed is not confirmed (the store is unreachable): past d
// since the last confirmation, Verify reads the store and, if it cannot,
// refuses with ErrUnavailable (5 s by default). The bound runs both on the
// clock of [WithClock] and on the process's monotonic clock: whichever
// says it has passed ends the serving.
func WithMaxStaleness(d time.Duration) Option { return func(o *options) { o.staleness = d } }

// WithEpochs sets where revocation epochs persist (an in-memory store by
// default, which protects this process only). Use the policy store's
// (adapters/pgstore.NewEpochs, adapters/sqlitestore.NewEpochs) when several
// processes share sessions, so that losing the session store never brings a
// revoked session back.
func WithEpochs(e EpochStore) Option { return func(o *options) { o.epochs = e } }

// WithEventSink sends session.started and session.ended events to s (none
// by default).
func WithEventSink(s EventSink) Option { return func(o *options) { o.events = s } }

// WithLogger sets where the change feed's failures are logged
// (slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

func (o *options) check() error {
	switch {
	case o.issuer == "" || o.audience == "":
		return fmt.Errorf("%w: issuer and audience must not be empty", ErrInvalidInput)
	case o.leeway < 0 || o.leeway > MaxLeeway:
		return fmt.Errorf("%w: leeway must be between 0 and %s", ErrInvalidInput, MaxLeeway)
	case o.lifetime <= 0:
		return fmt.Errorf("%w: absolute lifetime must be positive", ErrInvalidInput)
	case o.idle < 0:
		return fmt.Errorf("%w: idle timeout must not be negative", ErrInvalidInput)
	case o.staleness <= 0:
		return fmt.Errorf("%w: max staleness must be positive", ErrInvalidInput)
	case o.now == nil || o.logger == nil:
		return fmt.Errorf("%w: nil clock or logger", ErrInvalidInput)
	}
	return nil
}
