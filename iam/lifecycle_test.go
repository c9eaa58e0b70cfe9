package iam_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
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

func TestAssignments(t *testing.T) {
	t.Parallel()
	a, _ := newLifecycle(t, sodCity(), newLCClock(noon))
	got, err := reports.Assignments(a.View(), "user:hank")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Grants) != 1 || got.Grants[0].Via != "unit:procurement" || !got.Grants[0].Active {
		t.Fatalf("Grants = %+v", got.Grants)
	}
	var paths []string
	for _, r := range got.Roles {
		paths = append(paths, string(r.Role)+": "+r.Path.String())
	}
	want := []string{
		"purchasing-agent: user:hank → unit:procurement → grant senior-buyer at org → role:senior-buyer → role:purchasing-agent",
		"senior-buyer: user:hank → unit:procurement → grant senior-buyer at org → role:senior-buyer",
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("Roles:\n%s\nwant\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
	if _, err := reports.Assignments(a.View(), "hank"); !errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("malformed subject: %v", err)
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

func TestComplianceReport(t *testing.T) {
	t.Parallel()
	// Before the rule: fran is director and, through buyers, an agent.
	m := sodCity()
	m.Conflicts = nil
	m.Members = append(m.Members, rbac.Membership{Member: "user:fran", Group: "group:buyers"}, rbac.Membership{Member: "user:kim", Group: "group:buyers"})
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:kim", Role: "finance-director", Scope: "dept:finance"})
	a, _ := newLifecycle(t, m, newLCClock(noon))
	ctx := context.Background()
	rep, err := reports.Compliance(a.View())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Violations) != 0 || rep.Open() != 0 {
		t.Fatalf("no rules, violations %+v", rep.Violations)
	}
	// The rule arrives while violations exist: accepted, then reported.
	if _, err := iam.AdminOf(a).Apply(ctx, iam.Change{PutConflicts: sodCity().Conflicts,
		PutWaivers: []iam.Waiver{{Rule: "po-create-approve", Subject: "user:kim", ApprovedBy: "user:cao", Reason: "two-person office", NotAfter: noon.Add(24 * time.Hour)}}}); err != nil {
		t.Fatalf("adding a rule existing grants break: %v", err)
	}
	rep, err = reports.Compliance(a.View())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Violations) != 2 || rep.Open() != 1 || rep.Waived() != 1 {
		t.Fatalf("violations = %+v", rep.Violations)
	}
	if v := rep.Violations[0]; v.Subject != "user:fran" || v.Waiver != nil || !strings.Contains(v.First.Path.String(), "group:buyers") {
		t.Errorf("fran's violation = %+v", v)
	}

	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows = tableRows(rows)
	if len(rows) != 3 || rows[0][0] != "rule" || rows[1][3] != "violation" || rows[2][3] != "waived" || rows[2][10] != "user:cao" {
		t.Errorf("csv = %q", rows)
	}
	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		V          int            `json:"v"`
		Kind       string         `json:"kind"`
		Summary    map[string]int `json:"summary"`
		Violations []struct {
			Status string `json:"status"`
			Waiver *struct {
				ApprovedBy string `json:"approved_by"`
				Until      string `json:"until"`
			} `json:"waiver"`
		} `json:"violations"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.V != 1 || doc.Kind != "sod.compliance" || doc.Summary["violations"] != 1 || doc.Summary["waived"] != 1 ||
		doc.Violations[1].Waiver == nil || doc.Violations[1].Waiver.Until == "" {
		t.Errorf("json = %s", buf.String())
	}

	// Cleaning up and enforcing gives zero.
	if _, err := iam.AdminOf(a).Apply(ctx, iam.Change{Leave: []iam.Membership{{Member: "user:fran", Group: "group:buyers"}, {Member: "user:kim", Group: "group:buyers"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := iam.AdminOf(a).Assign(ctx, iam.Grant{Subject: "user:fran", Role: "purchasing-agent", Scope: "org"}); !errors.Is(err, iam.ErrConflict) {
		t.Fatalf("conflicting assign: %v", err)
	}
	rep, _ = reports.Compliance(a.View())
	if len(rep.Violations) != 0 {
		t.Errorf("after cleanup: %+v", rep.Violations)
	}
	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil || !strings.Contains(buf.String(), `"violations": 0`) || !strings.Contains(buf.String(), `"violations": []`) {
		t.Errorf("zero report json: %v %s", err, buf.String())
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

func TestAccessReviewAndDryRun(t *testing.T) {
	t.Parallel()
	a, _ := newLifecycle(t, sodCity(), newLCClock(noon))
	ctx := context.Background()
	got, err := reports.AccessReview(a.View(), "finance.po.create")
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, e := range got {
		who = append(who, string(e.Subject)+"@"+string(e.Scope)+": "+e.Path.String())
	}
	want := []string{
		"group:buyers@dept:finance: group:buyers → grant purchasing-agent at dept:finance → role:purchasing-agent → allow finance.po.create",
		"unit:procurement@org: unit:procurement → grant senior-buyer at org → role:senior-buyer → role:purchasing-agent → allow finance.po.create",
		"user:gina@dept:finance: user:gina → group:buyers → grant purchasing-agent at dept:finance → role:purchasing-agent → allow finance.po.create",
		"user:hank@org: user:hank → unit:procurement → grant senior-buyer at org → role:senior-buyer → role:purchasing-agent → allow finance.po.create",
	}
	if strings.Join(who, "\n") != strings.Join(want, "\n") {
		t.Errorf("AccessReview:\n%s\nwant\n%s", strings.Join(who, "\n"), strings.Join(want, "\n"))
	}
	loss, err := reports.DryRunRemove(a.View(), "purchasing-agent", "finance.po.create")
	if err != nil {
		t.Fatal(err)
	}
	if len(loss) != 4 {
		t.Errorf("DryRunRemove = %+v, want the 4 holders", loss)
	}
	// Nothing changed.
	if d, _ := a.Check(ctx, "user:gina", "finance.po.create", "dept:finance"); !d.Allowed {
		t.Error("dry run changed the policy")
	}
	// fran keeps read through finance-director; the agents' holders lose it.
	if loss, err := reports.DryRunRemove(a.View(), "purchasing-agent", "finance.po.read"); err != nil || len(loss) != 4 {
		t.Errorf("DryRunRemove read = %+v, %v", loss, err)
	}
	for _, tt := range []struct {
		role iam.RoleID
		perm iam.Permission
	}{{"mayor", "finance.po.create"}, {"auditor", "finance.po.create"}} {
		if _, err := reports.DryRunRemove(a.View(), tt.role, tt.perm); !errors.Is(err, iam.ErrNotFound) {
			t.Errorf("DryRunRemove(%s, %s): %v, want ErrNotFound", tt.role, tt.perm, err)
		}
	}
}

func TestCertificationReport(t *testing.T) {
	t.Parallel()
	a, _ := newLifecycle(t, sodCity(), newLCClock(noon))
	rep, err := reports.Certification(a.View(), "dept:finance")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range rep.Rows {
		rows = append(rows, string(r.Subject)+" "+string(r.Role)+" via="+string(r.Via)+" "+r.Reason)
	}
	want := []string{"user:fran finance-director via= appointed by council", "user:gina purchasing-agent via=group:buyers "}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if len(rep.Rows) > 0 && len(rep.Rows[0].Permissions) != 2 {
		t.Errorf("fran's permissions = %v", rep.Rows[0].Permissions)
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil || !strings.Contains(buf.String(), "finance.po.approve finance.po.read") {
		t.Errorf("csv: %v\n%s", err, buf.String())
	}
	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil || !strings.Contains(buf.String(), `"kind": "access.certification"`) {
		t.Errorf("json: %v\n%s", err, buf.String())
	}
	if _, err := reports.Certification(a.View(), "ward:7"); !errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("non-department scope: %v", err)
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

// tableRows drops the trailing "evidence" rows (the report's header) of a
// CSV export.
func tableRows(rows [][]string) [][]string {
	out := rows[:0:0]
	for _, r := range rows {
		if r[0] != "evidence" {
			out = append(out, r)
		}
	}
	return out
}
