package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/csvsafe"
)

// Action is one decision made under emergency access.
type Action struct {
	EventID string    `json:"event_id"`
	Time    time.Time `json:"time"`
	// Subject is who acted: the activation's subject or, for an activation
	// of a group or org unit, one of its members.
	Subject    iam.Subject `json:"subject"`
	Kind       string      `json:"kind,omitempty"` // check, explain, filter, record
	Permission string      `json:"permission"`
	Scope      string      `json:"scope"`
	Allowed    bool        `json:"allowed"`
	Reason     string      `json:"reason"`
	Path       string      `json:"path,omitempty"`
}

// Review is the post-incident review of one emergency activation: when it
// started and ended, and every check made under it. Its JSON form is the
// document [Review.WriteJSON] writes.
type Review struct {
	// Header says what the review evidences. Its period is the
	// activation's, from its start to when access ended; GeneratedAt is
	// zero until the caller sets it (the review is built from events and
	// reads no clock).
	Header     Header
	Activation iam.Activation
	// Ended is when access ended: the emergency.ended event's time, or the
	// end of the window if no such event was recorded.
	Ended time.Time
	// How is "early", "window_elapsed" or, with no emergency.ended event,
	// "window" (access ended with the window; the reaper has not run).
	How     string
	Actions []Action
}

// EmergencyReview builds the review of act (as [iam.Admin.ActivateEmergency]
// returned it) from recorded events.
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
func EmergencyReview(events []iam.Event, act iam.Activation) Review {
	rv := Review{Activation: act, Ended: act.Until, How: "window"}
	for _, e := range events {
		if e.Type != iam.EventEmergencyEnded || e.Subject != act.Subject || e.Detail["role"] != string(act.Role) ||
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
	grant := iam.GrantKey{Subject: act.Subject, Role: act.Role, Scope: act.Scope}.String()
	for _, e := range events {
		if e.Type != iam.EventEmergency || e.Time.Before(act.From) || !e.Time.Before(rv.Ended) || seen[e.ID] {
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
	rv.Header = rv.header()
	return rv
}

// WriteCSV writes the review's actions as CSV with a header row, then the
// review's [Header] as "evidence" rows; acted_by is who acted (a member,
// for a group or unit activation).
func (rv Review) WriteCSV(w io.Writer) error {
	rows := [][]string{{"activation", "subject", "role", "scope", "time", "permission", "action_scope", "allowed", "reason", "path", "event_id", "acted_by", "kind"}}
	for _, x := range rv.Actions {
		rows = append(rows, []string{rv.Activation.ID, string(rv.Activation.Subject), string(rv.Activation.Role), string(rv.Activation.Scope),
			stamp(x.Time), x.Permission, x.Scope, strconv.FormatBool(x.Allowed), x.Reason, x.Path, x.EventID, string(x.Subject), x.Kind})
	}
	rows = append(rows, rv.header().rows(len(rows[0]))...)
	if err := csvsafe.Write(w, rows); err != nil {
		return fmt.Errorf("reports: review csv: %w", err)
	}
	return nil
}

// reviewJSON is the versioned JSON form of a Review.
type reviewJSON struct {
	V          int       `json:"v"`
	Header     Header    `json:"header"`
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

func (rv Review) doc() reviewJSON {
	a := rv.Activation
	doc := reviewJSON{V: 1, Header: rv.header(), Kind: KindEmergencyReview, Activation: a.ID, Subject: string(a.Subject), Role: string(a.Role), Scope: string(a.Scope),
		Reason: a.Reason, From: a.From.UTC(), Until: a.Until.UTC(), Ended: rv.Ended.UTC(), How: rv.How, Actions: rv.Actions}
	if doc.Actions == nil {
		doc.Actions = []Action{}
	}
	return doc
}

// MarshalJSON encodes the review as the document [Review.WriteJSON]
// writes.
func (rv Review) MarshalJSON() ([]byte, error) { return json.Marshal(rv.doc()) }

// WriteJSON writes the review as one JSON document (schema version 1,
// kind "emergency.review"): v, header, kind, activation (the event id),
// subject, role, scope, reason, from, until, ended (RFC 3339), how, and
// actions (event_id, time, subject, kind, permission, scope, allowed,
// reason, path).
func (rv Review) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rv.doc()); err != nil {
		return fmt.Errorf("reports: review json: %w", err)
	}
	return nil
}

// emergencyGrantsOf returns the grant keys listed in a decision.emergency
// event's "grants" detail.
func emergencyGrantsOf(e iam.Event) []string {
	g := e.Detail["grants"]
	if g == "" {
		return nil
	}
	return strings.Split(g, "; ")
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return stamp(t)
}

// pathText renders a path for a CSV cell.
func pathText(p iam.Path) string { return strings.TrimSpace(p.String()) }

// header returns rv.Header, or for a review built by hand the header its
// activation gives.
func (rv Review) header() Header {
	if rv.Header.Report != "" {
		return rv.Header
	}
	h := NewHeader(KindEmergencyReview, rv.Activation.Revision, time.Time{}, rv.Activation.From, rv.Ended)
	h.GeneratedAt = time.Time{}
	return h
}
