package iam

import (
	"time"

	"github.com/civic-platform/security/rbac"
)

// EventSchemaVersion is the version of the JSON form of [Event]. It
// changes only when a field changes meaning or is removed; new fields and
// new detail keys may appear within a version.
const EventSchemaVersion = 1

// Event is a domain event: a change or a security-relevant decision, made
// by the Authorizer, an [Admin], a session layer or an API-key manager,
// and delivered to an [AuditSink] (or through a store's outbox).
//
// Its JSON form is the wire schema consumers rely on:
//
//	{"v":1,"id":"<32 hex>","type":"role.assigned","time":"2026-03-14T12:00:00Z",
//	 "actor":"user:cfo","subject":"user:alice","revision":42,
//	 "detail":{"role":"clerk","scope":"dept:clerk"}}
//
// The event types and their detail keys are listed with [EventRoleAssigned].
type Event struct {
	// Version is the schema version ("v"); zero means
	// [EventSchemaVersion].
	Version int `json:"v"`
	// ID is unique per event (128 random bits, hex) and serves as the
	// idempotency key for at-least-once delivery: consumers drop an ID
	// they have seen.
	ID string `json:"id"`
	// Type names the event: "role.assigned", "pii.viewed", ...
	Type string `json:"type"`
	// Time is when the event was made, on the maker's clock (RFC 3339 in
	// JSON).
	Time time.Time `json:"time"`
	// Actor is who caused the event, when known ([ContextWithActor]).
	Actor rbac.Subject `json:"actor,omitempty"`
	// Subject is who the event is about (the grantee, the checked subject).
	Subject rbac.Subject `json:"subject,omitempty"`
	// Revision is the policy revision the event belongs to, when relevant:
	// the one a change produced or a decision was made on.
	Revision int64 `json:"revision,omitempty"`
	// Detail holds event-specific fields; never secrets.
	Detail map[string]string `json:"detail,omitempty"`
}
