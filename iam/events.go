package iam

import (
	"strconv"
	"time"

	"github.com/civic-platform/security/rbac"
)

// Event types emitted for policy changes.
const (
	EventRoleAssigned = "role.assigned" // a grant was made
	EventRoleRevoked  = "role.revoked"  // a grant was removed
	EventRoleChanged  = "role.changed"  // a role was created, replaced or deleted
	EventMembership   = "membership.changed"
	EventPolicy       = "policy.changed" // scopes or the permission catalog changed
	EventEmergency    = "decision.emergency"
	EventPIIViewed    = "pii.viewed"
)

// changeEvents returns the domain events for one applied change, all
// stamped with the revision it produced.
func changeEvents(c rbac.Change, rev int64, actor Subject) []Event {
	var out []Event
	add := func(typ string, sub Subject, detail map[string]string) {
		out = append(out, Event{Type: typ, Actor: actor, Subject: sub, Revision: rev, Detail: detail})
	}
	for _, g := range c.Grant {
		d := map[string]string{"role": string(g.Role), "scope": string(g.Scope)}
		if !g.NotBefore.IsZero() {
			d["valid_from"] = g.NotBefore.UTC().Format(time.RFC3339Nano)
		}
		if !g.NotAfter.IsZero() {
			d["valid_until"] = g.NotAfter.UTC().Format(time.RFC3339Nano)
		}
		if g.Reason != "" {
			d["reason"] = g.Reason
		}
		add(EventRoleAssigned, g.Subject, d)
	}
	for _, k := range c.Revoke {
		add(EventRoleRevoked, k.Subject, map[string]string{"role": string(k.Role), "scope": string(k.Scope)})
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
	return out
}
