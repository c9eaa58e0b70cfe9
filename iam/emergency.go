package iam

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/civic-platform/security/rbac"
)

// MaxEmergencyWindow is the longest window emergency access can be
// activated for.
const MaxEmergencyWindow = rbac.MaxEmergencyWindow

// Activation is one activation of emergency access: Subject holds the
// emergency role Role at Scope from From until Until.
type Activation struct {
	// ID is the id of the emergency.activated event.
	ID       string    `json:"id"`
	Subject  Subject   `json:"subject"`
	Role     RoleID    `json:"role"`
	Scope    Scope     `json:"scope"`
	From     time.Time `json:"from"`  // RFC 3339
	Until    time.Time `json:"until"` // RFC 3339
	Reason   string    `json:"reason"`
	Revision int64     `json:"revision"`
}

// ActivateEmergency grants the pre-configured emergency role to sub at
// scope for window, starting now, and emits role.assigned and
// emergency.activated. The window must be more than zero and at most
// [MaxEmergencyWindow] and reason must be given, else the error wraps
// [ErrInvalidInput]; a role that is not an emergency role (marked
// Emergency, or inheriting one) is refused the same way, one that does
// not exist wraps [ErrNotFound], and an activation of the same subject,
// role and scope still in force wraps [ErrExists].
//
// One person's continuous emergency access is capped at
// [MaxEmergencyWindow] however it is assembled (see [rbac.Update]): an
// activation that would extend access already in force — through this
// role or another, at any scope, through the person's own grants or their
// groups' and org units' — is refused with an error wrapping
// [rbac.ErrEmergency] (and [ErrInvalidInput]). Going past the cap takes a
// new activation, with its own reason and event, once the access in force
// has ended.
//
// sub may be a user, a service account, a group or an org unit. An
// activation for a group or unit gives the role to every member (the cap
// applies to each member), and its review ([EmergencyReview]) lists every
// member's actions: each decision.emergency event names the emergency
// grants it was made under, the group's among them.
//
// Every check made under the role is audited as decision.emergency with
// the path that decided it. Access ends by itself at the end of the window
// — the check compares with the clock — and [Reaper.Reap] then removes the
// grant and emits emergency.ended; [Admin.EndEmergency] ends it early.
// An ended activation of the same subject, role and scope that the reaper
// has not removed yet is replaced, only if it is still stored as read (in
// the store's write transaction): an activation someone made in between
// is never revoked, and this one is then refused.
func (ad *Admin) ActivateEmergency(ctx context.Context, sub Subject, role RoleID, scope Scope, window time.Duration, reason string) (Activation, error) {
	if window <= 0 || window > MaxEmergencyWindow {
		return Activation{}, fmt.Errorf("iam: activate emergency: %w", &rbac.InvalidError{Kind: "emergency window", Value: window.String(),
			Reason: "must be more than zero and at most " + MaxEmergencyWindow.String()})
	}
	if strings.TrimSpace(reason) == "" {
		return Activation{}, fmt.Errorf("iam: activate emergency: %w", &rbac.InvalidError{Kind: "emergency activation", Reason: "a reason is required"})
	}
	if err := sub.Validate(); err != nil {
		return Activation{}, fmt.Errorf("iam: activate emergency: %w", err)
	}
	a := ad.a
	if a == nil {
		return Activation{}, ErrClosed
	}
	s, err := a.load()
	if err != nil {
		return Activation{}, err
	}
	r, ok := s.policy.Role(role)
	if !ok {
		return Activation{}, fmt.Errorf("iam: activate emergency: %w", &rbac.NotFoundError{Kind: "role", Name: string(role)})
	}
	if !r.Emergency && !s.policy.IsEmergency(role) {
		return Activation{}, fmt.Errorf("iam: activate emergency: %w", &rbac.InvalidError{Kind: "role", Value: string(role), Reason: "not an emergency role"})
	}
	actor := actorOf(ctx)
	for attempt := 0; ; attempt++ {
		m, _, err := a.src.LoadPolicy(ctx)
		if err != nil {
			return Activation{}, fmt.Errorf("iam: activate emergency: %w", err)
		}
		now := a.opts.clock()
		g := Grant{Subject: sub, Role: role, Scope: scope, NotBefore: now, NotAfter: now.Add(window), Reason: reason}
		c := Change{At: now, Grant: []Grant{g}}
		for _, old := range m.Grants {
			if old.Key() == g.Key() && !old.NotAfter.IsZero() && !now.Before(old.NotAfter) {
				// Replace the ended activation only if it is still stored
				// as read: one made meanwhile is not revoked.
				c.Revoke = append(c.Revoke, old.Key())
				c.ExpectGrants = append(c.ExpectGrants, old)
			}
		}
		act := Activation{Subject: sub, Role: role, Scope: scope, From: now, Until: g.NotAfter, Reason: reason}
		rev, err := ad.applyChange(ctx, c, func(rev int64) []Event {
			d := grantDetail(g)
			d["window"] = window.String()
			e := Event{Type: EventEmergencyActivated, Actor: actor, Subject: sub, Revision: rev, Detail: d}
			a.complete(&e)
			act.ID = e.ID
			return append([]Event{e}, changeEvents(Change{Grant: c.Grant}, rev, actor)...)
		})
		if len(c.Revoke) > 0 && (errors.Is(err, rbac.ErrChanged) || errors.Is(err, ErrNotFound)) && attempt < 3 {
			continue // changed or removed since read: read again
		}
		if err != nil {
			return Activation{}, err
		}
		act.Revision = rev
		return act, nil
	}
}

// EndEmergency ends an activation before its window does: it revokes the
// grant and emits role.revoked and emergency.ended. Ending one that does
// not exist (or that the reaper already removed) wraps [ErrNotFound].
func (ad *Admin) EndEmergency(ctx context.Context, sub Subject, role RoleID, scope Scope, reason string) (int64, error) {
	k := GrantKey{Subject: sub, Role: role, Scope: scope}
	c := Change{Revoke: []GrantKey{k}}
	actor := actorOf(ctx)
	return ad.applyChange(ctx, c, func(rev int64) []Event {
		return append(changeEventsWhy(c, rev, actor, reason), Event{Type: EventEmergencyEnded, Actor: actor, Subject: sub, Revision: rev,
			Detail: map[string]string{"role": string(role), "scope": string(scope), "reason": reason, "how": "early"}})
	})
}
