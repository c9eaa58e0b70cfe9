package iam_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

// clock is a settable clock for tests.
type lcClock struct{ ns atomic.Int64 }

func newLCClock(t time.Time) *lcClock  { c := &lcClock{}; c.Set(t); return c }
func (c *lcClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *lcClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *lcClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// sodCity is a finance department with a segregation-of-duties rule and an
// emergency composite role.
func sodCity() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:finance"}, {Scope: "dept:fire"}, {Scope: "facility:annex", Parent: "dept:finance"}},
		Roles: []rbac.Role{
			{ID: "purchasing-agent", Labels: map[string]string{"en": "Purchasing Agent"}, Permissions: []rbac.Permission{"finance.po.create", "finance.po.read"}},
			{ID: "finance-director", Labels: map[string]string{"en": "Finance Director"}, Permissions: []rbac.Permission{"finance.po.approve", "finance.po.read"}},
			{ID: "senior-buyer", Inherits: []rbac.RoleID{"purchasing-agent"}},
			{ID: "auditor", Permissions: []rbac.Permission{"finance.report.read"}},
			{ID: "eoc", Emergency: true, Composite: true, Permissions: []rbac.Permission{"fire.apparatus.dispatch", "transit.route.detour"}},
		},
		Members: []rbac.Membership{{Member: "user:gina", Group: "group:buyers"}, {Member: "user:hank", Group: "unit:procurement"}},
		Grants: []rbac.Grant{
			{Subject: "group:buyers", Role: "purchasing-agent", Scope: "dept:finance"},
			{Subject: "unit:procurement", Role: "senior-buyer", Scope: "org"},
			{Subject: "user:fran", Role: "finance-director", Scope: "dept:finance", Reason: "appointed by council"},
		},
		Conflicts: []rbac.ConflictRule{{ID: "po-create-approve", Description: "who raises a PO never approves it",
			Roles: [2]rbac.RoleID{"purchasing-agent", "finance-director"}}},
	}
}

func newLifecycle(t testing.TB, m rbac.Model, c *lcClock) (*iam.Authorizer, *iamtest.Recorder) {
	t.Helper()
	rec := &iamtest.Recorder{}
	a, err := iam.New(context.Background(), iamtest.NewStore(m), iam.WithClock(c.Now), iam.WithAuditSink(rec))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a, rec
}

func eventsOf(rec *iamtest.Recorder, typ string) []iam.Event {
	var out []iam.Event
	for _, e := range rec.Events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestAssignRefusesConflictsOnEveryPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		grant   iam.Grant
		subject iam.Subject
	}{
		{"direct", iam.Grant{Subject: "user:fran", Role: "purchasing-agent", Scope: "dept:finance"}, "user:fran"},
		{"through a group", iam.Grant{Subject: "user:gina", Role: "finance-director", Scope: "dept:finance"}, "user:gina"},
		{"to a group", iam.Grant{Subject: "group:buyers", Role: "finance-director", Scope: "facility:annex"}, "user:gina"},
		{"through an org unit and inheritance", iam.Grant{Subject: "user:hank", Role: "finance-director", Scope: "dept:fire"}, "user:hank"},
		{"temporary overlapping", iam.Grant{Subject: "user:gina", Role: "finance-director", Scope: "dept:finance",
			NotBefore: noon.Add(time.Hour), NotAfter: noon.Add(2 * time.Hour), Reason: "acting director"}, "user:gina"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, rec := newLifecycle(t, sodCity(), newLCClock(noon))
			rev := a.Revision()
			_, err := iam.AdminOf(a).Assign(iam.ContextWithActor(context.Background(), "user:hr"), tt.grant)
			var ce *iam.ConflictError
			if !errors.Is(err, iam.ErrConflict) || !errors.As(err, &ce) {
				t.Fatalf("Assign: %v, want ErrConflict", err)
			}
			if ce.Rule != "po-create-approve" || ce.Subject != tt.subject || len(ce.First) == 0 || len(ce.Second) == 0 {
				t.Errorf("ConflictError = %+v", ce)
			}
			if a.Revision() != rev {
				t.Errorf("refused change moved the revision")
			}
			blocked := eventsOf(rec, iam.EventRoleAssignmentBlocked)
			if len(blocked) != 1 || blocked[0].Subject != tt.subject || blocked[0].Detail["rule"] != "po-create-approve" ||
				blocked[0].Detail["first_path"] == "" || blocked[0].Detail["second_path"] == "" || blocked[0].Actor != "user:hr" || blocked[0].ID == "" {
				t.Errorf("role.assignment_blocked events = %+v", blocked)
			}
			// The detail holds domain facts only: the rule, the paths and
			// grants of both sides, and a sentence made from them, never
			// the wrapped error of whichever store refused the change.
			if len(blocked) == 1 {
				d := blocked[0].Detail
				want := fmt.Sprintf("conflict rule %q: %s would hold both through %s and through %s", "po-create-approve", tt.subject, d["first_path"], d["second_path"])
				if d["error"] != want || strings.Contains(d["error"], "apply") || strings.Contains(d["error"], "store") ||
					d["first_grant"] == "" || d["second_grant"] == "" || d["first_path"] != ce.First.String() && d["second_path"] != ce.First.String() {
					t.Errorf("role.assignment_blocked detail = %q, want error %q", d, want)
				}
			}
			if n := len(eventsOf(rec, iam.EventRoleAssigned)); n != 0 {
				t.Errorf("%d role.assigned events for a refused change", n)
			}
		})
	}
}

func TestAssignAndRevoke(t *testing.T) {
	t.Parallel()
	a, rec := newLifecycle(t, sodCity(), newLCClock(noon))
	ctx := context.Background()
	g := iam.Grant{Subject: "user:ivy", Role: "auditor", Scope: "dept:finance", NotAfter: noon.Add(time.Hour), Reason: "year-end audit"}
	if _, err := iam.AdminOf(a).Assign(ctx, g); err != nil {
		t.Fatalf("Assign: %v", err)
	}
	if d, _ := a.Check(ctx, "user:ivy", "finance.report.read", "dept:finance"); !d.Allowed {
		t.Errorf("assigned role does not grant")
	}
	ev := eventsOf(rec, iam.EventRoleAssigned)
	if len(ev) != 1 || ev[0].Detail["reason"] != "year-end audit" || ev[0].Detail["valid_until"] == "" {
		t.Errorf("role.assigned = %+v", ev)
	}
	if _, err := iam.AdminOf(a).Revoke(ctx, g.Key(), "audit done"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if ev := eventsOf(rec, iam.EventRoleRevoked); len(ev) != 1 || ev[0].Detail["reason"] != "audit done" {
		t.Errorf("role.revoked = %+v", ev)
	}
	if d, _ := a.Check(ctx, "user:ivy", "finance.report.read", "dept:finance"); d.Allowed {
		t.Errorf("revoked role still grants")
	}
}

func TestRevokeMissingAssignment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  iam.GrantKey
	}{
		{"unknown subject", iam.GrantKey{Subject: "user:nobody", Role: "auditor", Scope: "org"}},
		{"other scope", iam.GrantKey{Subject: "user:fran", Role: "finance-director", Scope: "org"}},
		{"other role", iam.GrantKey{Subject: "user:fran", Role: "auditor", Scope: "dept:finance"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, rec := newLifecycle(t, sodCity(), newLCClock(noon))
			_, err := iam.AdminOf(a).Revoke(context.Background(), tt.key, "cleanup")
			var nf *rbac.NotFoundError
			if !errors.Is(err, iam.ErrNotFound) || !errors.As(err, &nf) {
				t.Fatalf("Revoke: %v, want ErrNotFound", err)
			}
			if n := len(rec.Events()); n != 0 {
				t.Errorf("%d events for a refused revoke", n)
			}
		})
	}
}

func TestReaper(t *testing.T) {
	t.Parallel()
	m := sodCity()
	m.Grants = append(m.Grants,
		rbac.Grant{Subject: "user:ivy", Role: "auditor", Scope: "dept:finance", NotBefore: noon.Add(-time.Hour), NotAfter: noon.Add(time.Hour), Reason: "acting"},
		rbac.Grant{Subject: "user:jay", Role: "auditor", Scope: "dept:finance", NotAfter: noon.Add(10 * 24 * time.Hour)},
	)
	c := newLCClock(noon)
	a, rec := newLifecycle(t, m, c)
	ctx := context.Background()
	r := iam.NewReaper(iam.AdminOf(a), 2*time.Hour)

	rep, err := r.Reap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Expired) != 0 || len(rep.ExpiringSoon) != 1 || rep.ExpiringSoon[0].Subject != "user:ivy" {
		t.Fatalf("first reap = %+v", rep)
	}
	// Announced once per grant.
	if rep, _ := r.Reap(ctx); len(rep.ExpiringSoon) != 0 {
		t.Errorf("announced twice: %+v", rep.ExpiringSoon)
	}
	if ev := eventsOf(rec, iam.EventRoleExpiringSoon); len(ev) != 1 || ev[0].Detail["lead"] != "2h0m0s" {
		t.Errorf("role.expiring_soon = %+v", ev)
	}

	// The check alone stops the grant at valid_until, before any reap.
	c.Add(time.Hour)
	if d, _ := a.Check(ctx, "user:ivy", "finance.report.read", "dept:finance"); d.Allowed {
		t.Fatal("grant still in force at valid_until")
	}
	rep, err = r.Reap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Expired) != 1 || rep.Revision == 0 {
		t.Fatalf("reap at the end = %+v", rep)
	}
	if ev := eventsOf(rec, iam.EventRoleExpired); len(ev) != 1 || ev[0].Subject != "user:ivy" || ev[0].Revision != rep.Revision {
		t.Errorf("role.expired = %+v", ev)
	}
	as, _ := reports.Assignments(a.View(), "user:ivy")
	if len(as.Grants) != 0 {
		t.Errorf("expired grant still stored: %+v", as.Grants)
	}
	if rep, _ := r.Reap(ctx); rep.Revision != 0 {
		t.Errorf("nothing to reap wrote revision %d", rep.Revision)
	}
}

func TestReaperRun(t *testing.T) {
	t.Parallel()
	m := sodCity()
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:ivy", Role: "auditor", Scope: "org", NotAfter: noon.Add(-time.Minute)})
	a, rec := newLifecycle(t, m, newLCClock(noon))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- iam.NewReaper(iam.AdminOf(a), 0).Run(ctx, time.Millisecond) }()
	deadline := time.After(5 * time.Second)
	for len(eventsOf(rec, iam.EventRoleExpired)) == 0 {
		select {
		case <-deadline:
			t.Fatal("reaper did not run")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
	if err := iam.NewReaper(iam.AdminOf(a), 0).Run(context.Background(), 0); !errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("Run with no interval: %v", err)
	}
}

func TestConflictRuleNamingMissingRole(t *testing.T) {
	t.Parallel()
	a, _ := newLifecycle(t, sodCity(), newLCClock(noon))
	_, err := iam.AdminOf(a).Apply(context.Background(), iam.Change{PutConflicts: []iam.ConflictRule{{ID: "ghost", Roles: [2]rbac.RoleID{"purchasing-agent", "mayor"}}}})
	if errors.Is(err, iam.ErrInvalidInput) || !errors.Is(err, iam.ErrNotFound) || !strings.Contains(err.Error(), "mayor") {
		t.Fatalf("Apply: %v, want ErrNotFound (only) naming the missing role", err)
	}
}

func TestConcurrentConflictingAssignments(t *testing.T) {
	t.Parallel()
	for i := range 20 {
		a, _ := newLifecycle(t, sodCity(), newLCClock(noon))
		var wg sync.WaitGroup
		var ok, conflict atomic.Int32
		for _, role := range []rbac.RoleID{"purchasing-agent", "finance-director"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := iam.AdminOf(a).Assign(context.Background(), iam.Grant{Subject: "user:zed", Role: role, Scope: "dept:finance"})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, iam.ErrConflict):
					conflict.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || conflict.Load() != 1 {
			t.Fatalf("round %d: %d succeeded, %d refused; want 1 and 1", i, ok.Load(), conflict.Load())
		}
	}
}

func TestSlogSink(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	rec := &iamtest.Recorder{}
	sink := iam.Tee(iam.SlogSink(slog.New(slog.NewJSONHandler(&buf, nil))), rec)
	a, err := iam.New(context.Background(), iamtest.NewStore(sodCity()), iam.WithClock(iamtest.Clock(noon)), iam.WithAuditSink(sink))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := iam.AdminOf(a).Assign(context.Background(), iam.Grant{Subject: "user:ivy", Role: "auditor", Scope: "org"}); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	detail, _ := line["detail"].(map[string]any)
	if line["msg"] != "role.assigned" || line["subject"] != "user:ivy" || detail["role"] != "auditor" || line["id"] != rec.Events()[0].ID {
		t.Errorf("log line = %v", line)
	}
}
