package iamtest

import (
	"context"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// TB is the part of [testing.TB] the kit uses: a *testing.T, *testing.B
// or *testing.F.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Env is an Authorizer over an in-memory store, with everything a test
// needs to drive it and watch it. Build one with [New].
type Env struct {
	// Authorizer answers checks. It is closed when the test ends.
	Authorizer *iam.Authorizer
	// Admin writes policy (Apply, Assign, Revoke, emergency access, Sync)
	// and reloads Authorizer before it returns, so a check made after a
	// write sees it. It is built with [iam.NewOutboxAdmin], as over the SQL
	// stores: each change's events are kept in Store's outbox with the
	// change and relayed from there to Events before the write returns.
	// For the other construction, build iam.NewAdmin(env.Authorizer,
	// env.Store): its events reach Events through the Authorizer's sink.
	Admin *iam.Admin
	// Store is the in-memory store both read and write, relaying its
	// outbox to Events ([Store.AutoRelay]).
	Store *Store
	// Clock is the Authorizer's clock. It stands still until the test
	// moves it.
	Clock *ManualClock
	// Events receives every event: the change events from Store's outbox,
	// and the events about decisions and refused changes from the
	// Authorizer's sink, in the order they happen.
	Events *Recorder
}

// New returns an [Env] holding m at revision 1, with its clock at the
// current time truncated to the second. The Authorizer is built with
// [iam.WithClock](Clock.Now) and [iam.WithAuditSink](Events), then opts;
// an option in opts that sets the clock or the sink replaces the Env's:
// Clock then no longer drives the Authorizer, or the decision events go
// to the test's sink while the change events, relayed from the outbox,
// still reach Events. If m
// is invalid or [iam.New] fails, New fails the test at once (t.Fatalf).
// The Authorizer is closed when the test ends (t.Cleanup); a Close
// error fails the test.
func New(t TB, m rbac.Model, opts ...iam.Option) *Env {
	t.Helper()
	e := &Env{
		Store:  NewStore(m),
		Clock:  NewClock(time.Now().UTC().Truncate(time.Second)),
		Events: &Recorder{},
	}
	e.Store.AutoRelay(e.Events)
	if e.Store.err != nil {
		t.Fatalf("iamtest: New: %v", e.Store.err)
		return nil
	}
	all := append([]iam.Option{iam.WithClock(e.Clock.Now), iam.WithAuditSink(e.Events)}, opts...)
	a, err := iam.New(context.Background(), e.Store, all...)
	if err != nil {
		t.Fatalf("iamtest: New: %v", err)
		return nil
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("iamtest: Close: %v", err)
		}
	})
	e.Authorizer, e.Admin = a, iam.NewOutboxAdmin(a, e.Store)
	return e
}

// NewAuthorizer is [New] for a test that needs only the Authorizer.
func NewAuthorizer(t TB, m rbac.Model, opts ...iam.Option) *iam.Authorizer {
	t.Helper()
	return New(t, m, opts...).Authorizer
}
