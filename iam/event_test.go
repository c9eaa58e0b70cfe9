package iam_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
)

// The JSON form of an Event is the versioned wire schema: these keys,
// RFC 3339 time, empty optional fields left out, and it reads back equal.
func TestEventJSONSchema(t *testing.T) {
	e := iam.Event{Version: iam.EventSchemaVersion, ID: "0123456789abcdef0123456789abcdef", Type: iam.EventRoleAssigned,
		Time: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC), Actor: "user:cfo", Subject: "user:alice", Revision: 42,
		Detail: map[string]string{"role": "clerk", "scope": "dept:clerk"}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"v":1,"id":"0123456789abcdef0123456789abcdef","type":"role.assigned","time":"2026-03-14T12:00:00Z",` +
		`"actor":"user:cfo","subject":"user:alice","revision":42,"detail":{"role":"clerk","scope":"dept:clerk"}}`
	if string(b) != want {
		t.Fatalf("JSON = %s\nwant   %s", b, want)
	}
	var back iam.Event
	if err := json.Unmarshal(b, &back); err != nil || back.ID != e.ID || !back.Time.Equal(e.Time) || back.Detail["scope"] != "dept:clerk" {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
	b, _ = json.Marshal(iam.Event{Version: 1, ID: "x", Type: "pii.viewed", Time: e.Time})
	if string(b) != `{"v":1,"id":"x","type":"pii.viewed","time":"2026-03-14T12:00:00Z"}` {
		t.Fatalf("optional fields not omitted: %s", b)
	}
}
