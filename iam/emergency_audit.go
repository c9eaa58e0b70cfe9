package iam

import (
	"context"
	"hash/maphash"
	"strconv"
	"strings"
	"time"
)

// emergencyUse is one decision made under emergency access, as
// decision.emergency records it.
type emergencyUse struct {
	// kind is the entry point: "check" (Check, CheckMany, Require and the
	// masker, which decides through Check), "explain", "filter" or
	// "record" (CheckRecord).
	kind     string
	sub      Subject
	perm     Permission
	scope    Scope // empty for a decision over records at many scopes (a filter)
	decision Decision
	grant    int32     // the deciding grant (rbac.Result.DecidingGrant), or -1
	at       time.Time // the instant of the decision
	// path, if set, is the explanation the caller already has.
	path *emergencyPath
	// detail holds extra keys ("filter").
	detail map[string]string
}

// emergencyPath is what an emergency record says about how a decision was
// reached: the decisive path and the emergency grants in force.
type emergencyPath struct {
	path   string
	grants string // the emergency grants the subject acted under, "; "-separated
	// from and until bound the instants the entry describes: the
	// subject's grants in force do not change between them (until zero:
	// never change), so a grant that begins or ends later on the same
	// snapshot is never missed.
	from, until time.Time
}

// maxPaths bounds the emergency paths one snapshot keeps.
const maxPaths = 1024

func hashPathKey(seed maphash.Seed, k pathKey) uint64 {
	return (maphash.String(seed, string(k.sub))*31^maphash.String(seed, string(k.perm)))*31 ^ maphash.String(seed, string(k.scope))
}

// pathKey identifies an explained decision within one snapshot.
type pathKey struct {
	sub   Subject
	perm  Permission
	scope Scope
	grant int32
}

// recordEmergency emits one decision.emergency event for a decision made
// on snapshot s under emergency access. It is the one place every entry
// point that decides records such a decision — Check, CheckMany, Require,
// Explain, Filter, CheckRecord and the masker — so that the events have one
// shape and a post-incident review ([EmergencyReview]) finds them all.
//
// The event's detail holds permission, scope (when there is one), allowed,
// reason, kind, path (the decisive path, when the decision has one) and
// grants: every emergency grant in force that reached the subject, as
// "subject role@scope", "; "-separated. A grant made to a group or org unit
// names the group, so that the review of a group activation lists every
// member's actions. The path and grants are computed once per snapshot,
// subject, permission, scope and deciding grant, for as long as the
// subject's grants in force stay the same.
func (a *Authorizer) recordEmergency(ctx context.Context, s *snapshot, u emergencyUse) {
	when := u.at
	var ep emergencyPath
	key := pathKey{sub: u.sub, perm: u.perm, scope: u.scope, grant: u.grant}
	cached := false
	if u.path == nil && u.kind == "check" {
		ep, cached = s.paths.Get(key)
		cached = cached && !when.Before(ep.from) && (ep.until.IsZero() || when.Before(ep.until))
	}
	if !cached {
		ep = emergencyPath{}
		if u.path != nil {
			ep.path = u.path.path
		} else if u.scope != "" {
			if ex, err := s.policy.Explain(u.sub, u.perm, u.scope, when); err == nil {
				ep.path = ex.Decisive.String()
			}
		}
		gs := s.policy.EmergencyGrants(u.sub, u.scope, when)
		names := make([]string, len(gs))
		for i, g := range gs {
			names[i] = g.String()
		}
		ep.grants = strings.Join(names, "; ")
		if u.path == nil && u.kind == "check" {
			// The subject's grants in force (of any permission) say how long
			// the path stays true.
			if f, err := s.policy.GrantsInForce(u.sub, u.perm, when); err == nil {
				ep.from, ep.until = when, f.Until()
				s.paths.Add(key, ep)
			}
		}
	}
	detail := map[string]string{
		"permission": string(u.perm),
		"allowed":    strconv.FormatBool(u.decision.Allowed),
		"reason":     u.decision.Reason,
		"kind":       u.kind,
		"grants":     ep.grants,
	}
	if u.scope != "" {
		detail["scope"] = string(u.scope)
	}
	if ep.path != "" {
		detail["path"] = ep.path
	}
	for k, v := range u.detail {
		detail[k] = v
	}
	a.emit(ctx, Event{Type: EventEmergency, Subject: u.sub, Revision: s.revision, Detail: detail})
}
