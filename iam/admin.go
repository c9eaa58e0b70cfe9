package iam

import (
	"context"
	"fmt"
)

// Admin writes policy: roles, grants, memberships, conflict rules and
// emergency activations. It is built explicitly from an [Authorizer] and a
// writer, and the constructor states where change events go:
//
//   - [NewAdmin]: the writer commits the change, then the events go to the
//     Authorizer's [AuditSink] ([WithAuditSink]). A process that dies
//     between the two loses the events, never the change.
//   - [NewOutboxAdmin]: the writer stores the events in the same
//     transaction as the change (an outbox, relayed by adapters/pgoutbox);
//     they never reach the sink from here.
//
// The delivery never depends on which other interfaces the writer's
// dynamic type happens to implement: a wrapper around an outbox store
// passed to NewAdmin delivers to the sink, and NewOutboxAdmin accepts only
// an [EventWriter]. Events about refused changes (role.assignment_blocked)
// and about decisions go to the sink in both cases.
//
// Every write reloads the Authorizer before returning, so a check made
// after a write returns sees it. The Admin reads the Authorizer's
// [PolicySource] where a write must start from the stored policy (the
// reaper, replacing an ended emergency activation). An Admin is safe for
// concurrent use; the store serializes writes.
type Admin struct {
	a      *Authorizer
	w      PolicyWriter // NewAdmin; nil with an outbox
	outbox EventWriter  // NewOutboxAdmin
}

// NewAdmin returns an Admin that writes through w and then hands the
// change's events to a's [AuditSink]. w is usually the store a was built
// on. A nil w makes every write fail with [ErrReadOnly].
func NewAdmin(a *Authorizer, w PolicyWriter) *Admin {
	return &Admin{a: a, w: w}
}

// NewOutboxAdmin returns an Admin that writes each change and its events
// in one transaction through w (see [EventWriter]). A nil w makes every
// write fail with [ErrReadOnly].
func NewOutboxAdmin(a *Authorizer, w EventWriter) *Admin {
	return &Admin{a: a, outbox: w}
}

// Apply writes c and reloads, so that checks made after Apply returns see
// the change. It returns the new revision. An invalid change is refused by
// the store with an error wrapping [ErrInvalidInput] or [ErrNotFound], and
// nothing is written. The change is made at the Authorizer's clock
// ([WithClock]): Apply sets c.At to it, whatever the caller put there, so
// that waivers are judged at the real instant.
func (ad *Admin) Apply(ctx context.Context, c Change) (int64, error) {
	return ad.applyChange(ctx, c, nil)
}

// applyChange writes c and emits its events: through the outbox for an
// Admin made with [NewOutboxAdmin], else to the sink after the write. A
// change refused by a conflict rule emits role.assignment_blocked. events
// nil means the standard events of c.
func (ad *Admin) applyChange(ctx context.Context, c Change, events func(rev int64) []Event) (int64, error) {
	a := ad.a
	if a == nil {
		return 0, fmt.Errorf("iam: apply: %w", ErrClosed)
	}
	if a.closed.Load() {
		return 0, ErrClosed
	}
	if ad.w == nil && ad.outbox == nil {
		return 0, ErrReadOnly
	}
	// The facade's clock, not the caller, says when a change is made:
	// waivers, windows and the emergency cap are judged at this instant.
	c.At = a.opts.clock()
	actor := actorOf(ctx)
	if events == nil {
		activated := a.activatedBy(c)
		events = func(rev int64) []Event {
			return append(activationEvents(activated, rev, actor), changeEvents(c, rev, actor)...)
		}
	}
	made := func(rev int64) []Event {
		es := events(rev)
		for i := range es {
			a.complete(&es[i])
		}
		return es
	}
	var (
		rev int64
		err error
	)
	if ad.outbox != nil {
		rev, err = ad.outbox.ApplyWithEvents(ctx, c, made)
	} else {
		rev, err = ad.w.Apply(ctx, c)
	}
	if err != nil {
		for _, e := range blockedEvents(c, err, actor) {
			a.emit(ctx, e)
		}
		return 0, fmt.Errorf("iam: apply: %w", err)
	}
	// Reload first, so that a sink reacting to an event sees the change;
	// the events are emitted even if the reload fails, since the change
	// is written.
	reloadErr := a.Reload(ctx)
	if ad.outbox == nil {
		for _, e := range made(rev) {
			a.emit(ctx, e)
		}
	}
	if reloadErr != nil {
		return rev, fmt.Errorf("iam: apply: revision %d written, reload failed: %w", rev, reloadErr)
	}
	return rev, nil
}
