package iam

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/civic-platform/security/internal/audit"
	"github.com/civic-platform/security/rbac"
)

// Event types. Every event is an [Event] whose JSON form is versioned
// (field "v", currently 1; see [EventSchemaVersion]):
//
//	{"v":1,"id":"<32 hex>","type":"role.assigned","time":"2026-03-14T12:00:00Z",
//	 "actor":"user:cfo","subject":"user:alice","revision":42,
//	 "detail":{"role":"clerk","scope":"dept:clerk"}}
//
// id is the idempotency key: a consumer that has seen an id drops the event
// (the outbox delivers at least once). time is when the event was made,
// from the Authorizer's clock. actor is who made the change, when the
// caller said so with [ContextWithActor]. revision is the policy revision
// the change produced, or the one a decision was made on. Within version 1
// new detail keys may appear; none changes meaning or disappears.
//
// Detail keys by type:
//
//	role.assigned            role, scope, valid_from?, valid_until?, reason?
//	role.revoked             role, scope, reason?
//	role.assignment_blocked  rule, role, scope, first_path, second_path,
//	                         first_grant, second_grant (the grants holding
//	                         each side), error (the refusal in words, built
//	                         from these facts only, the same for every store)
//	                         (subject: the principal who would hold both sides;
//	                         no revision: nothing was written)
//	role.expired             role, scope, valid_until
//	role.expiring_soon       role, scope, valid_until, lead (Go duration)
//	role.changed             role, op (put|delete), permissions, deny
//	membership.changed       group, op (join|leave)
//	policy.changed           scopes, permissions (counts)
//	sod.rule.changed         rule, op (put|delete), sides
//	sod.waiver.changed       rule, op (put|delete), approved_by?, reason?, valid_until?
//	sod.waiver.expired       rule, approved_by, valid_until
//	emergency.activated      role, scope, valid_from, valid_until, window, reason
//	emergency.ended          role, scope, reason, how (early|window_elapsed)
//	decision.emergency       permission, scope?, allowed, reason, path?, kind
//	                         (check|explain|filter|record), grants (the
//	                         emergency grants in force, "subject role@scope",
//	                         "; "-separated), filter? (kind filter)
//	pii.viewed               (see the masking documentation)
//	policy.fallback_mismatch copy_revision, store_revision (the fallback
//	                         copy served was not the store's policy)
const (
	EventRoleAssigned          = "role.assigned"           // a grant was made
	EventRoleRevoked           = "role.revoked"            // a grant was removed
	EventRoleAssignmentBlocked = "role.assignment_blocked" // a change was refused by a conflict rule
	EventRoleExpired           = "role.expired"            // the reaper removed a grant whose window ended
	EventRoleExpiringSoon      = "role.expiring_soon"      // a grant ends within the reaper's lead time
	EventRoleChanged           = "role.changed"            // a role was created, replaced or deleted
	EventMembership            = "membership.changed"
	EventPolicy                = "policy.changed" // scopes, the permission catalog or quarantined rows changed
	EventConflictRule          = "sod.rule.changed"
	EventWaiver                = "sod.waiver.changed"
	EventWaiverExpired         = "sod.waiver.expired"
	EventEmergencyActivated    = "emergency.activated"
	EventEmergencyEnded        = "emergency.ended"
	EventEmergency             = "decision.emergency" // a decision made under emergency access, by any entry point
	EventPIIViewed             = "pii.viewed"
	EventFallbackMismatch      = "policy.fallback_mismatch" // the fallback copy served was not the store's policy
)

// changeEvents returns the domain events for one applied change, all
// stamped with the revision it produced.
func changeEvents(c rbac.Change, rev int64, actor Subject) []Event {
	return changeEventsWhy(c, rev, actor, "")
}

// changeEventsWhy is changeEvents with a reason recorded on revocations.
func changeEventsWhy(c rbac.Change, rev int64, actor Subject, reason string) []Event {
	var out []Event
	add := func(typ string, sub Subject, detail map[string]string) {
		out = append(out, Event{Type: typ, Actor: actor, Subject: sub, Revision: rev, Detail: detail})
	}
	for _, g := range c.Grant {
		add(EventRoleAssigned, g.Subject, grantDetail(g))
	}
	for _, k := range c.Revoke {
		d := map[string]string{"role": string(k.Role), "scope": string(k.Scope)}
		if reason != "" {
			d["reason"] = reason
		}
		add(EventRoleRevoked, k.Subject, d)
	}
	for _, r := range c.PutRoles {
		add(EventRoleChanged, "", map[string]string{"role": string(r.ID), "op": "put",
			"permissions": strconv.Itoa(len(r.Permissions)), "deny": strconv.Itoa(len(r.Deny))})
	}
	for _, id := range c.DeleteRoles {
		add(EventRoleChanged, "", map[string]string{"role": string(id), "op": "delete"})
	}
	for _, m := range c.Join {
		add(EventMembership, m.Member, map[string]string{"group": string(m.Group), "op": "join"})
	}
	for _, m := range c.Leave {
		add(EventMembership, m.Member, map[string]string{"group": string(m.Group), "op": "leave"})
	}
	if len(c.PutScopes)+len(c.AddPermissions) > 0 {
		add(EventPolicy, "", map[string]string{"scopes": strconv.Itoa(len(c.PutScopes)), "permissions": strconv.Itoa(len(c.AddPermissions))})
	}
	for _, id := range c.DeleteRows {
		add(EventPolicy, "", map[string]string{"op": "delete quarantined row", "row": strconv.FormatInt(id, 10)})
	}
	for _, r := range c.PutConflicts {
		s := r.Sides()
		add(EventConflictRule, "", map[string]string{"rule": r.ID, "op": "put", "sides": s[0] + " / " + s[1]})
	}
	for _, id := range c.DeleteConflicts {
		add(EventConflictRule, "", map[string]string{"rule": id, "op": "delete"})
	}
	for _, w := range c.PutWaivers {
		d := map[string]string{"rule": w.Rule, "op": "put", "approved_by": string(w.ApprovedBy), "reason": w.Reason}
		if !w.NotAfter.IsZero() {
			d["valid_until"] = stamp(w.NotAfter)
		}
		add(EventWaiver, w.Subject, d)
	}
	for _, k := range c.DeleteWaivers {
		add(EventWaiver, k.Subject, map[string]string{"rule": k.Rule, "op": "delete"})
	}
	return out
}

func grantDetail(g rbac.Grant) map[string]string {
	d := map[string]string{"role": string(g.Role), "scope": string(g.Scope)}
	if !g.NotBefore.IsZero() {
		d["valid_from"] = stamp(g.NotBefore)
	}
	if !g.NotAfter.IsZero() {
		d["valid_until"] = stamp(g.NotAfter)
	}
	if g.Reason != "" {
		d["reason"] = g.Reason
	}
	return d
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// blockedEvents returns one role.assignment_blocked event per rule and
// principal named by a refused change's conflict error.
func blockedEvents(c rbac.Change, err error, actor Subject) []Event {
	var ce *rbac.ConflictError
	if !errors.As(err, &ce) {
		return nil
	}
	type key struct {
		rule string
		sub  Subject
	}
	seen := map[key]bool{}
	var out []Event
	for _, v := range ce.Violations {
		k := key{v.Rule, v.Subject}
		if seen[k] {
			continue
		}
		seen[k] = true
		d := map[string]string{
			"rule":         v.Rule,
			"first_path":   v.First.Path.String(),
			"second_path":  v.Second.Path.String(),
			"first_grant":  v.First.Grant.String(),
			"second_grant": v.Second.Grant.String(),
			// The refusal in words, from the violation alone: the same
			// whichever store refused the change, with nothing of its
			// internals.
			"error": fmt.Sprintf("conflict rule %s: %s would hold both through %s and through %s",
				strconv.Quote(v.Rule), v.Subject, v.First.Path, v.Second.Path),
		}
		// The grant the change tried to make, when it made one.
		for _, g := range c.Grant {
			if g.Key() == v.First.Grant || g.Key() == v.Second.Grant {
				d["role"], d["scope"] = string(g.Role), string(g.Scope)
				break
			}
		}
		out = append(out, Event{Type: EventRoleAssignmentBlocked, Actor: actor, Subject: v.Subject, Detail: d})
	}
	return out
}

// complete fills in what every event carries: id, schema version and time.
func (a *Authorizer) complete(e *Event) {
	if e.ID == "" {
		e.ID = audit.NewID()
	}
	if e.Version == 0 {
		e.Version = EventSchemaVersion
	}
	if e.Time.IsZero() {
		e.Time = a.opts.clock()
	}
}
