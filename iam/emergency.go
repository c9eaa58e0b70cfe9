package iam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/civic-platform/security/internal/csvsafe"
	"github.com/civic-platform/security/rbac"
)

// MaxEmergencyWindow is the longest window emergency access can be
// activated for.
const MaxEmergencyWindow = rbac.MaxEmergencyWindow

// Activation is one activation of emergency access: Subject holds the
// emergency role Role at Scope from From until Until.
type Activation struct {
	// ID is the id of the emergency.activated event.
	ID       string
	Subject  Subject
	Role     RoleID
	Scope    Scope
	From     time.Time
	Until    time.Time
	Reason   string
	Revision int64
}

// ActivateEmergency grants the pre-configured emergency role to sub at
// scope for window, starting now, and emits role.assigned and
// emergency.activated. The window must be more than zero and at most
// [MaxEmergencyWindow] and reason must be given, else the error wraps
// [ErrInvalidInput]; a role that is not an emergency role (marked
// Emergency, or inheriting one) is refused the same way, and one that does
// not exist wraps [ErrNotFound].
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
// grant and emits emergency.ended; [Authorizer.EndEmergency] ends it early.
// An ended activation of the same subject, role and scope that the reaper
// has not removed yet is replaced, only if it is still stored as read (in
// the store's write transaction): an activation someone made in between
// is never revoked, and this one is then refused.
func (a *Authorizer) ActivateEmergency(ctx context.Context, sub Subject, role RoleID, scope Scope, window time.Duration, reason string) (Activation, error) {
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
		rev, err := a.applyChange(ctx, c, func(rev int64) []Event {
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
func (a *Authorizer) EndEmergency(ctx context.Context, sub Subject, role RoleID, scope Scope, reason string) (int64, error) {
	k := GrantKey{Subject: sub, Role: role, Scope: scope}
	c := Change{Revoke: []GrantKey{k}}
	actor := actorOf(ctx)
	return a.applyChange(ctx, c, func(rev int64) []Event {
		return append(changeEventsWhy(c, rev, actor, reason), Event{Type: EventEmergencyEnded, Actor: actor, Subject: sub, Revision: rev,
			Detail: map[string]string{"role": string(role), "scope": string(scope), "reason": reason, "how": "early"}})
	})
}

// Action is one decision made under emergency access.
type Action struct {
	EventID string    `json:"event_id"`
	Time    time.Time `json:"time"`
	// Subject is who acted: the activation's subject or, for an activation
	// of a group or org unit, one of its members.
	Subject    Subject `json:"subject"`
	Kind       string  `json:"kind,omitempty"` // check, explain, filter, record
	Permission string  `json:"permission"`
	Scope      string  `json:"scope"`
	Allowed    bool    `json:"allowed"`
	Reason     string  `json:"reason"`
	Path       string  `json:"path,omitempty"`
}

// Review is the post-incident review of one emergency activation: when it
// started and ended, and every check made under it.
type Review struct {
	Activation Activation
	// Ended is when access ended: the emergency.ended event's time, or the
	// end of the window if no such event was recorded.
	Ended time.Time
	// How is "early", "window_elapsed" or, with no emergency.ended event,
	// "window" (access ended with the window; the reaper has not run).
	How     string
	Actions []Action
}

// EmergencyReview builds the review of act from recorded events.
//
// An action belongs to the activation when its decision.emergency event
// names the activation's grant among the emergency grants it was made
// under (detail "grants"), whoever acted — for an activation of a group
// or org unit, every member's actions are listed, each with its Subject.
// An event without that detail (recorded by an older version) belongs to
// the activation if its subject is the activation's subject.
//
// The Authorizer keeps no journal of its own: every check under emergency
// access is an event (decision.emergency) sent to the [AuditSink], and the
// review is built from the events the caller collected there — a memory
// sink in tests and small deployments, the audit service's store or the
// outbox relay's consumer in production. Events of other types, other
// subjects, or outside the activation are ignored, as are duplicates of an
// event id (at-least-once delivery).
func EmergencyReview(events []Event, act Activation) Review {
	rv := Review{Activation: act, Ended: act.Until, How: "window"}
	for _, e := range events {
		if e.Type != EventEmergencyEnded || e.Subject != act.Subject || e.Detail["role"] != string(act.Role) ||
			e.Detail["scope"] != string(act.Scope) || e.Time.Before(act.From) {
			continue
		}
		end := e.Time
		if e.Detail["how"] == "window_elapsed" || end.After(act.Until) {
			end = act.Until // the reaper reports after the fact
		}
		if rv.How == "window" || end.Before(rv.Ended) {
			rv.Ended, rv.How = end, e.Detail["how"]
		}
	}
	seen := map[string]bool{}
	grant := GrantKey{Subject: act.Subject, Role: act.Role, Scope: act.Scope}.String()
	for _, e := range events {
		if e.Type != EventEmergency || e.Time.Before(act.From) || !e.Time.Before(rv.Ended) || seen[e.ID] {
			continue
		}
		if _, ok := e.Detail["grants"]; ok {
			if !slices.Contains(emergencyGrantsOf(e), grant) {
				continue
			}
		} else if e.Subject != act.Subject {
			continue
		}
		seen[e.ID] = true
		allowed, _ := strconv.ParseBool(e.Detail["allowed"])
		rv.Actions = append(rv.Actions, Action{EventID: e.ID, Time: e.Time, Subject: e.Subject, Kind: e.Detail["kind"], Permission: e.Detail["permission"],
			Scope: e.Detail["scope"], Allowed: allowed, Reason: e.Detail["reason"], Path: e.Detail["path"]})
	}
	sort.SliceStable(rv.Actions, func(i, j int) bool { return rv.Actions[i].Time.Before(rv.Actions[j].Time) })
	return rv
}

// WriteCSV writes the review's actions as CSV with a header row; acted_by
// is who acted (a member, for a group or unit activation).
func (rv Review) WriteCSV(w io.Writer) error {
	rows := [][]string{{"activation", "subject", "role", "scope", "time", "permission", "action_scope", "allowed", "reason", "path", "event_id", "acted_by", "kind"}}
	for _, x := range rv.Actions {
		rows = append(rows, []string{rv.Activation.ID, string(rv.Activation.Subject), string(rv.Activation.Role), string(rv.Activation.Scope),
			stamp(x.Time), x.Permission, x.Scope, strconv.FormatBool(x.Allowed), x.Reason, x.Path, x.EventID, string(x.Subject), x.Kind})
	}
	if err := csvsafe.Write(w, rows); err != nil {
		return fmt.Errorf("iam: review csv: %w", err)
	}
	return nil
}

// reviewJSON is the versioned JSON form of a Review.
type reviewJSON struct {
	V          int       `json:"v"`
	Kind       string    `json:"kind"`
	Activation string    `json:"activation"`
	Subject    string    `json:"subject"`
	Role       string    `json:"role"`
	Scope      string    `json:"scope"`
	Reason     string    `json:"reason"`
	From       time.Time `json:"from"`
	Until      time.Time `json:"until"`
	Ended      time.Time `json:"ended"`
	How        string    `json:"how"`
	Actions    []Action  `json:"actions"`
}

// WriteJSON writes the review as one JSON document (schema version 1,
// kind "emergency.review").
func (rv Review) WriteJSON(w io.Writer) error {
	a := rv.Activation
	doc := reviewJSON{V: 1, Kind: "emergency.review", Activation: a.ID, Subject: string(a.Subject), Role: string(a.Role), Scope: string(a.Scope),
		Reason: a.Reason, From: a.From.UTC(), Until: a.Until.UTC(), Ended: rv.Ended.UTC(), How: rv.How, Actions: rv.Actions}
	if doc.Actions == nil {
		doc.Actions = []Action{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("iam: review json: %w", err)
	}
	return nil
}
