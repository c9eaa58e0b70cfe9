package audit

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/civic-platform/security/rbac"
)

// SchemaVersion is the version of the JSON form of [Event]. It changes only
// when a field changes meaning or is removed; new fields may appear within a
// version.
const SchemaVersion = 1

// Event is a domain event: a change or a security-relevant decision.
//
// Its JSON form is the wire schema consumers rely on:
//
//	{"v":1,"id":"…","type":"role.assigned","time":"2026-…Z","actor":"user:…",
//	 "subject":"user:…","revision":42,"detail":{"role":"…","scope":"…"}}
type Event struct {
	// Version is the schema version; zero means SchemaVersion.
	Version int `json:"v"`
	// ID is unique per event and serves as the idempotency key for
	// at-least-once delivery: consumers drop an ID they have seen.
	ID string `json:"id"`
	// Type names the event: "role.assigned", "pii.viewed", ...
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// Actor is who caused the event, when known.
	Actor rbac.Subject `json:"actor,omitempty"`
	// Subject is who the event is about (the grantee, the checked subject).
	Subject rbac.Subject `json:"subject,omitempty"`
	// Revision is the policy revision the event belongs to, when relevant.
	Revision int64 `json:"revision,omitempty"`
	// Detail holds event-specific fields.
	Detail map[string]string `json:"detail,omitempty"`
}

// NewID returns a random 128-bit event id in hex.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("audit: crypto/rand failed: " + err.Error()) // never on supported platforms
	}
	return hex.EncodeToString(b[:])
}
