package iam_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

// TestRecordsFollowWindowBoundaries moves the clock across the exact
// instants at which an allowing grant and a deny start and end, with the
// filter cache warm from the instant before, and checks that Filter and
// CheckRecord decide every record as Check does at its scopes.
func TestRecordsFollowWindowBoundaries(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	m := rbac.Model{
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:social"}, {Scope: "ward:7", Parent: "dept:social"}, {Scope: "facility:shelter", Parent: "ward:7"},
			{Scope: "dept:roads"}, {Scope: "ward:3", Parent: "dept:roads"},
		},
		Roles: []rbac.Role{
			{ID: "reader", Permissions: []rbac.Permission{"crm.*"}},
			{ID: "blocked", Deny: []rbac.Permission{"crm.case.*"}},
		},
		Members: []rbac.Membership{{Member: "user:u", Group: "group:g"}},
		Grants: []rbac.Grant{
			{Subject: "user:u", Role: "reader", Scope: "dept:social", NotBefore: t0, NotAfter: t0.Add(time.Hour)},
			{Subject: "group:g", Role: "reader", Scope: "dept:roads", NotBefore: t0.Add(30 * time.Minute)},
			{Subject: "user:u", Role: "blocked", Scope: "ward:7", NotBefore: t0.Add(10 * time.Minute), NotAfter: t0.Add(20 * time.Minute)},
		},
	}
	var now atomic.Int64
	now.Store(t0.Add(-time.Hour).UnixNano())
	a, err := iam.New(context.Background(), iamtest.NewStore(m), iam.WithClock(func() time.Time { return time.Unix(0, now.Load()).UTC() }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	sc, err := verifiedScoper(a, iam.DataScopes{})
	if err != nil {
		t.Fatal(err)
	}
	recs := []abac.Map{
		{"department": "social"}, {"ward": "7"}, {"facility": "shelter"}, {"department": "social", "ward": "3"},
		{"department": "roads"}, {"ward": "3"}, {}, {"ward": nil, "department": "social"},
	}
	ctx := context.Background()
	var instants []time.Time
	for _, edge := range []time.Duration{0, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute, time.Hour} {
		instants = append(instants, t0.Add(edge-time.Nanosecond), t0.Add(edge), t0.Add(edge+time.Nanosecond))
	}
	for _, at := range instants {
		now.Store(at.UnixNano())
		for _, x := range []rbac.Permission{"crm.case.read", "crm.note.read"} {
			f, err := a.Filter(ctx, "user:u", x, sc)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				// Check at the record's scopes: allowed at one, denied by a
				// deny rule at none; a record not placed at a ward is denied
				// by a ward deny in force.
				var scopes []rbac.Scope
				for _, f := range []struct{ field, prefix string }{{"department", "dept:"}, {"ward", "ward:"}, {"facility", "facility:"}} {
					if v, ok := abac.Text(rec, f.field); ok {
						scopes = append(scopes, rbac.Scope(f.prefix+v))
					}
				}
				want, denied := false, false
				for _, s := range scopes {
					d, err := a.Check(ctx, "user:u", x, s)
					if err != nil {
						t.Fatal(err)
					}
					want = want || d.Allowed
					denied = denied || d.Reason == rbac.ReasonDenyRule.String()
				}
				denyInForce := x == "crm.case.read" && !at.Before(t0.Add(10*time.Minute)) && at.Before(t0.Add(20*time.Minute))
				_, inWard := abac.Text(rec, "ward")
				_, atFacility := abac.Text(rec, "facility")
				if denied || denyInForce && !inWard && !atFacility {
					want = false
				}
				d, err := a.CheckRecord(ctx, "user:u", x, sc, rec)
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed != want || f.Match(rec) != want {
					t.Errorf("%s at t0%+v on %v: want %v, CheckRecord %v (%s), Filter %v admits %v",
						x, at.Sub(t0), rec, want, d.Allowed, d.Reason, f, f.Match(rec))
				}
			}
		}
	}
}

// TestSubjectIDAcrossSubjectKinds grants one role to a user, a service
// account, a group and a unit that share the id "alice", with a data rule
// on subject.id and an attribute source that also claims an "id": every
// subject sees exactly the records it owns as a whole subject.
func TestSubjectIDAcrossSubjectKinds(t *testing.T) {
	t.Parallel()
	m := rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:social"}, {Scope: "ward:7", Parent: "dept:social"}},
		Roles:  []rbac.Role{{ID: "owner", Permissions: []rbac.Permission{"crm.case.read"}}},
		Members: []rbac.Membership{
			{Member: "user:bob", Group: "group:alice"}, {Member: "user:carol", Group: "unit:alice"},
		},
		Grants: []rbac.Grant{
			{Subject: "user:alice", Role: "owner", Scope: "org"},
			{Subject: "svc:alice", Role: "owner", Scope: "dept:social"},
			{Subject: "group:alice", Role: "owner", Scope: "ward:7"},
			{Subject: "unit:alice", Role: "owner", Scope: "org"},
		},
	}
	src := iam.AttributesFunc(func(_ context.Context, sub iam.Subject) (abac.Attributes, error) {
		return abac.Attributes{"id": {"alice"}, "ids": {"alice", "user:alice", "svc:alice"}}, nil
	})
	a, sc := newScoped(t, m, iam.DataScopes{Attributes: src, Rules: []iam.DataRule{
		{Role: "owner", Permission: "crm.case.read", Rule: "owner = subject.id"},
		{Role: "owner", Permission: "crm.*", Rule: "delegate in subject.id and ward = '7'"},
	}})
	owners := []string{"alice", "user:alice", "svc:alice", "group:alice", "unit:alice", "user:bob", "user:carol", "Alice", "user:alice "}
	ctx := context.Background()
	for _, tt := range []struct {
		sub  iam.Subject
		want map[string]bool // owner -> admitted (record in ward 7)
	}{
		{"user:alice", map[string]bool{"user:alice": true}},
		{"svc:alice", map[string]bool{"svc:alice": true}},
		{"user:bob", map[string]bool{"user:bob": true}},
		{"user:carol", map[string]bool{"user:carol": true}},
		{"group:alice", map[string]bool{"group:alice": true}}, // as Check: the group holds the grant
		{"user:mallory", nil},
	} {
		f, err := a.Filter(ctx, tt.sub, "crm.case.read", sc)
		if err != nil {
			t.Fatal(err)
		}
		for _, owner := range owners {
			for _, field := range []string{"owner", "delegate"} {
				rec := abac.Map{"department": "social", "ward": "7", field: owner}
				want := tt.want[owner]
				d, err := a.CheckRecord(ctx, tt.sub, "crm.case.read", sc, rec)
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed != want || f.Match(rec) != want {
					t.Errorf("%s on %s=%q: CheckRecord %v (%s), Filter %v admits %v; want %v", tt.sub, field, owner, d.Allowed, d.Reason, f, f.Match(rec), want)
				}
			}
		}
	}
}
