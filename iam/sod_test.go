package iam_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// TestAssignJudgesWaiversAtTheClock checks that the facade judges a waiver
// at its own clock: a waiver permits an assignment while it is in force,
// and nothing before it begins or once it has lapsed.
func TestAssignJudgesWaiversAtTheClock(t *testing.T) {
	t.Parallel()
	waiver := iam.Waiver{Rule: "po-create-approve", Subject: "user:kim", ApprovedBy: "user:cao", Reason: "two-person office",
		NotBefore: noon, NotAfter: noon.Add(24 * time.Hour)}
	grant := iam.Grant{Subject: "user:kim", Role: "finance-director", Scope: "dept:finance"}
	for at, refused := range map[time.Time]bool{
		noon.Add(-time.Hour):     true, // not yet begun
		noon:                     false,
		noon.Add(23 * time.Hour): false,
		noon.Add(24 * time.Hour): true, // lapsed
	} {
		m := sodCity()
		m.Members = append(m.Members, rbac.Membership{Member: "user:kim", Group: "group:buyers"})
		m.Waivers = []rbac.Waiver{waiver}
		a, _ := newLifecycle(t, m, newLCClock(at))
		_, err := iam.AdminOf(a).Assign(context.Background(), grant)
		if errors.Is(err, iam.ErrConflict) != refused || (err != nil && !refused) {
			t.Errorf("at %v: Assign: %v, want refused = %v", at, err, refused)
		}
	}
}

// TestApplyIgnoresTheCallersInstant checks that a caller cannot date a
// change to a time when a lapsed waiver was still in force.
func TestApplyIgnoresTheCallersInstant(t *testing.T) {
	t.Parallel()
	m := sodCity()
	m.Members = append(m.Members, rbac.Membership{Member: "user:kim", Group: "group:buyers"})
	m.Waivers = []rbac.Waiver{{Rule: "po-create-approve", Subject: "user:kim", ApprovedBy: "user:cao", Reason: "two-person office",
		NotBefore: noon, NotAfter: noon.Add(time.Hour)}}
	a, _ := newLifecycle(t, m, newLCClock(noon.Add(48*time.Hour)))
	_, err := iam.AdminOf(a).Apply(context.Background(), iam.Change{At: noon, Grant: []iam.Grant{{Subject: "user:kim", Role: "finance-director", Scope: "dept:finance"}}})
	if !errors.Is(err, iam.ErrConflict) {
		t.Fatalf("change dated inside a lapsed waiver: %v, want ErrConflict", err)
	}
}
