package iam

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/civic-platform/security/rbac"
)

// Re-exported segregation-of-duties types.
type (
	ConflictRule  = rbac.ConflictRule  // two roles or permissions no one may hold together
	Waiver        = rbac.Waiver        // an approved exception to a conflict rule
	WaiverKey     = rbac.WaiverKey     // identifies a waiver
	Violation     = rbac.Violation     // a principal holding both sides of a rule
	Holding       = rbac.Holding       // one side of a violation and its path
	ConflictError = rbac.ConflictError // a change refused by a conflict rule
)

// EventWriter is implemented by a [PolicyWriter] that writes a change's
// domain events in the same transaction as the change (an outbox), so that
// no event is lost if the process dies between the two.
//
// ApplyWithEvents applies c like PolicyWriter.Apply and, inside the same
// transaction, stores the events that events returns for the revision the
// change produces. events is called at most once, after the change has
// been validated; if the change is refused it is not called. An [Admin]
// built with [NewOutboxAdmin] hands change events to the store this way
// instead of to the [AuditSink]: a relay (package adapters/pgoutbox)
// delivers them from there. Events about decisions and refused changes
// still go to the sink.
type EventWriter interface {
	ApplyWithEvents(ctx context.Context, c rbac.Change, events func(revision int64) []Event) (int64, error)
}

type actorKey struct{}

// ContextWithActor returns a context that names who is making policy
// changes. Events for changes made with it carry the actor.
func ContextWithActor(ctx context.Context, actor Subject) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFromContext returns the actor set by [ContextWithActor].
func ActorFromContext(ctx context.Context) (Subject, bool) {
	s, ok := ctx.Value(actorKey{}).(Subject)
	return s, ok
}

func actorOf(ctx context.Context) Subject {
	s, _ := ActorFromContext(ctx)
	return s
}

// Assign grants g.Role to g.Subject (a user, service account, group or org
// unit) at g.Scope, optionally from g.NotBefore until g.NotAfter, with
// g.Reason for reviewers, and emits role.assigned. It returns the new
// policy revision.
//
// An assignment that would let anyone hold both sides of a conflict rule —
// directly, through a group or org unit, through inheritance or a
// composite, or through temporary grants whose windows overlap — is
// refused atomically with a [*ConflictError] (errors.Is(err, ErrConflict))
// naming the rule and both paths, and role.assignment_blocked is emitted.
// A role that does not exist is refused with an error wrapping
// [ErrNotFound]; a subject that already holds the role at that scope (with
// any window) is refused with one wrapping [ErrExists], and nothing is
// written: to change a grant's window, Apply a change that revokes and
// grants it.
//
// A grant of an emergency role, through Assign or [Admin.Apply], is an
// activation like one made with [Admin.ActivateEmergency]: it needs a
// window of at most [MaxEmergencyWindow], is held to the cap on continuous
// emergency access, and emits emergency.activated with g.Reason (before
// role.assigned).
func (ad *Admin) Assign(ctx context.Context, g Grant) (int64, error) {
	if err := g.Subject.Validate(); err != nil {
		return 0, fmt.Errorf("iam: assign: %w", err)
	}
	return ad.applyChange(ctx, Change{Grant: []Grant{g}}, nil)
}

// Revoke removes the grant k and emits role.revoked with reason. Revoking
// a grant that does not exist is an error wrapping [ErrNotFound].
func (ad *Admin) Revoke(ctx context.Context, k GrantKey, reason string) (int64, error) {
	c := Change{Revoke: []GrantKey{k}}
	actor := actorOf(ctx)
	return ad.applyChange(ctx, c, func(rev int64) []Event { return changeEventsWhy(c, rev, actor, reason) })
}

// DefaultExpiryLead is how long before a grant ends a [Reaper] announces
// role.expiring_soon, unless told otherwise.
const DefaultExpiryLead = 72 * time.Hour

// Reaper removes grants whose window has ended and announces the ones about
// to end. The check alone already stops an ended grant from granting
// anything; the reaper tidies the store and tells people. Create one with
// [NewReaper]; call [Reaper.Reap] from a job, or [Reaper.Run] from a
// goroutine you own. It is safe for concurrent use.
//
// role.expiring_soon is announced once per grant (subject, role, scope and
// end) per Reaper, that is per process: a restarted process announces
// again. Consumers that must not notify twice dedupe on subject, role,
// scope and valid_until.
type Reaper struct {
	ad   *Admin
	lead time.Duration

	mu        sync.Mutex
	announced map[announceKey]struct{}
}

type announceKey struct {
	key   GrantKey
	until int64
}

// NewReaper returns a reaper that reads the store of ad's Authorizer and
// removes grants through ad, so its events go where ad sends them (the
// sink, or the outbox of an Admin made with [NewOutboxAdmin]). lead is how
// long before its end a grant is announced as expiring soon; lead <= 0
// means [DefaultExpiryLead].
func NewReaper(ad *Admin, lead time.Duration) *Reaper {
	if lead <= 0 {
		lead = DefaultExpiryLead
	}
	return &Reaper{ad: ad, lead: lead, announced: map[announceKey]struct{}{}}
}

// ReapReport says what one [Reaper.Reap] did.
type ReapReport struct {
	// Revision is the revision of the change that removed Expired and
	// ExpiredWaivers; zero if nothing was removed.
	Revision       int64
	Expired        []Grant
	ExpiredWaivers []Waiver
	// ExpiringSoon are the grants announced by this call.
	ExpiringSoon []Grant
}

// Reap removes, in one change, every grant whose window has ended and
// every waiver that has lapsed, emitting role.expired (and emergency.ended
// for emergency roles) and sod.waiver.expired; then it emits
// role.expiring_soon for each grant ending within the lead time that it has
// not announced before.
//
// The change revokes each grant, and deletes each lapsed waiver, only if
// the store still holds it exactly as Reap read it
// ([rbac.Change.ExpectGrants], [rbac.Change.ExpectWaivers], compared in the
// store's write transaction): one that someone extended or replaced in
// between is kept. A waiver that has not begun yet is not lapsed. If another process reaped or changed some of the grants
// meanwhile, Reap reads the store again and retries.
func (r *Reaper) Reap(ctx context.Context) (ReapReport, error) {
	a := r.ad.a
	var rep ReapReport
	var m Model
	for attempt := 0; ; attempt++ {
		var err error
		m, _, err = a.src.LoadPolicy(ctx)
		if err != nil {
			return ReapReport{}, fmt.Errorf("iam: reap: %w", err)
		}
		now := a.opts.clock()
		rep.Expired, rep.ExpiredWaivers = nil, nil
		var c Change
		for _, g := range m.Grants {
			if !g.NotAfter.IsZero() && !now.Before(g.NotAfter) {
				rep.Expired = append(rep.Expired, g)
				c.Revoke = append(c.Revoke, g.Key())
				// Revoke it only if it is still stored as read: a grant
				// extended meanwhile survives.
				c.ExpectGrants = append(c.ExpectGrants, g)
			}
		}
		for _, w := range m.Waivers {
			// Lapsed, not merely not yet begun; and removed only if still
			// stored as read.
			if !w.NotAfter.IsZero() && !now.Before(w.NotAfter) {
				rep.ExpiredWaivers = append(rep.ExpiredWaivers, w)
				c.DeleteWaivers = append(c.DeleteWaivers, w.Key())
				c.ExpectWaivers = append(c.ExpectWaivers, w)
			}
		}
		if c.IsZero() {
			break
		}
		emergency := rbac.EmergencyRoles(m)
		expired, waivers := rep.Expired, rep.ExpiredWaivers
		rev, err := r.ad.applyChange(ctx, c, func(rev int64) []Event {
			var es []Event
			for _, g := range expired {
				d := map[string]string{"role": string(g.Role), "scope": string(g.Scope), "valid_until": stamp(g.NotAfter)}
				es = append(es, Event{Type: EventRoleExpired, Subject: g.Subject, Revision: rev, Detail: d})
				if emergency[g.Role] {
					es = append(es, Event{Type: EventEmergencyEnded, Subject: g.Subject, Revision: rev, Detail: map[string]string{
						"role": string(g.Role), "scope": string(g.Scope), "reason": g.Reason, "how": "window_elapsed", "valid_until": stamp(g.NotAfter)}})
				}
			}
			for _, w := range waivers {
				es = append(es, Event{Type: EventWaiverExpired, Subject: w.Subject, Revision: rev, Detail: map[string]string{
					"rule": w.Rule, "approved_by": string(w.ApprovedBy), "valid_until": stamp(w.NotAfter)}})
			}
			return es
		})
		if (errors.Is(err, ErrNotFound) || errors.Is(err, rbac.ErrChanged)) && attempt < 3 {
			continue // someone else reaped or changed some of them first: read again
		}
		if err != nil {
			return ReapReport{}, fmt.Errorf("iam: reap: %w", err)
		}
		rep.Revision = rev
		break
	}
	now := a.opts.clock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range m.Grants {
		if g.NotAfter.IsZero() || !now.Before(g.NotAfter) || g.NotAfter.Sub(now) > r.lead {
			continue
		}
		k := announceKey{g.Key(), g.NotAfter.UnixNano()}
		if _, done := r.announced[k]; done {
			continue
		}
		r.announced[k] = struct{}{}
		rep.ExpiringSoon = append(rep.ExpiringSoon, g)
		d := map[string]string{"role": string(g.Role), "scope": string(g.Scope), "valid_until": stamp(g.NotAfter), "lead": r.lead.String()}
		a.emit(ctx, Event{Type: EventRoleExpiringSoon, Subject: g.Subject, Detail: d})
	}
	for k := range r.announced { // forget grants that have ended
		if now.UnixNano() >= k.until {
			delete(r.announced, k)
		}
	}
	return rep, nil
}

// Run calls [Reaper.Reap] every interval until ctx is done, logging
// failures, and returns ctx's error. Run it in a goroutine you own and
// stop it by cancelling ctx.
func (r *Reaper) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("iam: reaper: interval %v: %w", every, ErrInvalidInput)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := r.Reap(ctx); err != nil && ctx.Err() == nil {
			r.ad.a.opts.logger.Error("iam: reaper failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// activatedBy returns the grants of c that are of emergency roles, judged
// on the current snapshot with c's role changes applied: each is an
// activation of emergency access, announced as emergency.activated
// whichever write path made it. The store enforces the rules on what it
// holds; this only decides which events describe the change.
func (a *Authorizer) activatedBy(c Change) []Grant {
	s := a.snap.Load()
	if s == nil || len(c.Grant) == 0 {
		return nil
	}
	isEmergency := s.policy.IsEmergency
	if len(c.PutRoles)+len(c.DeleteRoles) > 0 {
		em := rbac.EmergencyRolesAfter(s.model, c)
		isEmergency = func(r RoleID) bool { return em[r] }
	}
	var out []Grant
	for _, g := range c.Grant {
		if isEmergency(g.Role) {
			out = append(out, g)
		}
	}
	return out
}

// activationEvents returns the emergency.activated events of grants made
// outside [Admin.ActivateEmergency].
func activationEvents(gs []Grant, rev int64, actor Subject) []Event {
	var out []Event
	for _, g := range gs {
		d := grantDetail(g)
		d["window"] = g.NotAfter.Sub(g.NotBefore).String()
		out = append(out, Event{Type: EventEmergencyActivated, Actor: actor, Subject: g.Subject, Revision: rev, Detail: d})
	}
	return out
}
