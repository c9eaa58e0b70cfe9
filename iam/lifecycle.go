package iam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
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
// been validated; if the change is refused it is not called. When the
// source implements EventWriter, [Authorizer.Apply] and the methods built
// on it hand change events to the store instead of the [AuditSink]: a relay
// (package adapters/pgoutbox) delivers them from there. Events about
// decisions and refused changes still go to the sink.
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

// applyChange writes c and emits its events: through the store's outbox
// when the source is an [EventWriter], else to the sink after the write. A
// change refused by a conflict rule emits role.assignment_blocked. events
// nil means the standard events of c.
func (a *Authorizer) applyChange(ctx context.Context, c Change, events func(rev int64) []Event) (int64, error) {
	if a.closed.Load() {
		return 0, ErrClosed
	}
	w, ok := a.src.(PolicyWriter)
	if !ok {
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
		rev      int64
		err      error
		outboxed bool
	)
	if ew, ok := a.src.(EventWriter); ok {
		outboxed = true
		rev, err = ew.ApplyWithEvents(ctx, c, made)
	} else {
		rev, err = w.Apply(ctx, c)
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
	if !outboxed {
		for _, e := range made(rev) {
			a.emit(ctx, e)
		}
	}
	if reloadErr != nil {
		return rev, fmt.Errorf("iam: apply: revision %d written, reload failed: %w", rev, reloadErr)
	}
	return rev, nil
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
// A role that does not exist, or a subject that already holds the role at
// that scope, is refused as invalid input.
//
// A grant of an emergency role, through Assign or [Authorizer.Apply], is an
// activation like one made with [Authorizer.ActivateEmergency]: it needs a
// window of at most [MaxEmergencyWindow], is held to the cap on continuous
// emergency access, and emits emergency.activated with g.Reason (before
// role.assigned).
func (a *Authorizer) Assign(ctx context.Context, g Grant) (int64, error) {
	if err := g.Subject.Validate(); err != nil {
		return 0, fmt.Errorf("iam: assign: %w", err)
	}
	return a.applyChange(ctx, Change{Grant: []Grant{g}}, nil)
}

// Revoke removes the grant k and emits role.revoked with reason. Revoking
// a grant that does not exist is an error wrapping [ErrNotFound].
func (a *Authorizer) Revoke(ctx context.Context, k GrantKey, reason string) (int64, error) {
	c := Change{Revoke: []GrantKey{k}}
	actor := actorOf(ctx)
	return a.applyChange(ctx, c, func(rev int64) []Event { return changeEventsWhy(c, rev, actor, reason) })
}

// Assignment is one grant that reaches a subject.
type Assignment struct {
	Grant Grant
	// Via is the group or org unit the grant was made to; empty when it
	// was made to the subject itself.
	Via Subject
	// Active reports whether the grant is in force now.
	Active bool
	// Path is subject → group → grant.
	Path Path
}

// EffectiveRole is a role a subject holds through an assignment: the
// granted role or one it inherits, with the path from the subject to it.
type EffectiveRole struct {
	Role   RoleID
	Scope  Scope
	Active bool
	Until  time.Time // the grant's end; zero when open
	Path   Path      // subject → group → grant → role → … → role
}

// Assignments is what [Authorizer.Assignments] returns.
type Assignments struct {
	Subject Subject
	Grants  []Assignment
	Roles   []EffectiveRole
}

// Assignments lists the grants that reach sub — its own and those of the
// groups and org units it belongs to — and every role it holds through
// them, each with its path. It reads the store, so grant reasons are as
// the store keeps them.
func (a *Authorizer) Assignments(ctx context.Context, sub Subject) (Assignments, error) {
	if err := sub.Validate(); err != nil {
		return Assignments{}, fmt.Errorf("iam: assignments: %w", err)
	}
	m, _, err := a.src.LoadPolicy(ctx)
	if err != nil {
		return Assignments{}, fmt.Errorf("iam: assignments: %w", err)
	}
	now := a.opts.clock()
	out := Assignments{Subject: sub}
	holders := []Subject{sub}
	for _, ms := range m.Members {
		if ms.Member == sub {
			holders = append(holders, ms.Group)
		}
	}
	roles := make(map[RoleID]*rbac.Role, len(m.Roles))
	for i := range m.Roles {
		roles[m.Roles[i].ID] = &m.Roles[i]
	}
	for _, g := range m.Grants {
		if !slices.Contains(holders, g.Subject) {
			continue
		}
		path := Path{{Kind: rbac.StepSubject, Name: string(sub)}}
		var via Subject
		if g.Subject != sub {
			via = g.Subject
			path = append(path, rbac.Step{Kind: rbac.StepGroup, Name: string(g.Subject)})
		}
		path = append(path, rbac.Step{Kind: rbac.StepGrant, Name: string(g.Role) + " at " + string(g.Scope)})
		as := Assignment{Grant: g, Via: via, Active: g.ActiveAt(now), Path: path}
		out.Grants = append(out.Grants, as)
		// Breadth first through the inherited roles, each reached once per
		// grant by its shortest chain.
		type hop struct {
			id   RoleID
			path Path
		}
		seen := map[RoleID]bool{g.Role: true}
		queue := []hop{{g.Role, append(slices.Clone(path), rbac.Step{Kind: rbac.StepRole, Name: string(g.Role)})}}
		for len(queue) > 0 {
			h := queue[0]
			queue = queue[1:]
			out.Roles = append(out.Roles, EffectiveRole{Role: h.id, Scope: g.Scope, Active: as.Active, Until: g.NotAfter, Path: h.path})
			r := roles[h.id]
			if r == nil {
				continue
			}
			for _, parent := range r.Inherits {
				if !seen[parent] {
					seen[parent] = true
					queue = append(queue, hop{parent, append(slices.Clone(h.path), rbac.Step{Kind: rbac.StepRole, Name: string(parent)})})
				}
			}
		}
	}
	sort.SliceStable(out.Roles, func(i, j int) bool {
		if out.Roles[i].Role != out.Roles[j].Role {
			return out.Roles[i].Role < out.Roles[j].Role
		}
		return out.Roles[i].Scope < out.Roles[j].Scope
	})
	return out, nil
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
	a    *Authorizer
	lead time.Duration

	mu        sync.Mutex
	announced map[announceKey]struct{}
}

type announceKey struct {
	key   GrantKey
	until int64
}

// NewReaper returns a reaper for a's store. lead is how long before its
// end a grant is announced as expiring soon; lead <= 0 means
// [DefaultExpiryLead].
func NewReaper(a *Authorizer, lead time.Duration) *Reaper {
	if lead <= 0 {
		lead = DefaultExpiryLead
	}
	return &Reaper{a: a, lead: lead, announced: map[announceKey]struct{}{}}
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
	var rep ReapReport
	var m Model
	for attempt := 0; ; attempt++ {
		var err error
		m, _, err = r.a.src.LoadPolicy(ctx)
		if err != nil {
			return ReapReport{}, fmt.Errorf("iam: reap: %w", err)
		}
		now := r.a.opts.clock()
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
		rev, err := r.a.applyChange(ctx, c, func(rev int64) []Event {
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
	now := r.a.opts.clock()
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
		r.a.emit(ctx, Event{Type: EventRoleExpiringSoon, Subject: g.Subject, Detail: d})
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
			r.a.opts.logger.Error("iam: reaper failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pathText joins paths for a CSV cell.
func pathText(p Path) string { return strings.TrimSpace(p.String()) }

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
		roles := make([]Role, 0, len(s.model.Roles)+len(c.PutRoles))
		for _, r := range s.model.Roles {
			if !slices.Contains(c.DeleteRoles, r.ID) && !slices.ContainsFunc(c.PutRoles, func(p Role) bool { return p.ID == r.ID }) {
				roles = append(roles, r)
			}
		}
		em := rbac.EmergencyRoles(rbac.Model{Roles: append(roles, c.PutRoles...)})
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
// outside [Authorizer.ActivateEmergency].
func activationEvents(gs []Grant, rev int64, actor Subject) []Event {
	var out []Event
	for _, g := range gs {
		d := grantDetail(g)
		d["window"] = g.NotAfter.Sub(g.NotBefore).String()
		out = append(out, Event{Type: EventEmergencyActivated, Actor: actor, Subject: g.Subject, Revision: rev, Detail: d})
	}
	return out
}
