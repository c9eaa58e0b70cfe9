package reports_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

var noon = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

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

// newLifecycle returns an Authorizer over m with its clock at noon, and the
// Admin that writes to its store.
func newLifecycle(t *testing.T, m rbac.Model, at time.Time) (*iam.Authorizer, *iam.Admin) {
	t.Helper()
	env := iamtest.New(t, m, iam.WithClock(iamtest.Clock(at)))
	return env.Authorizer, env.Admin
}

func TestAssignments(t *testing.T) {
	t.Parallel()
	a, _ := newLifecycle(t, sodCity(), noon)
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

func TestComplianceReport(t *testing.T) {
	t.Parallel()
	// Before the rule: fran is director and, through buyers, an agent.
	m := sodCity()
	m.Conflicts = nil
	m.Members = append(m.Members, rbac.Membership{Member: "user:fran", Group: "group:buyers"}, rbac.Membership{Member: "user:kim", Group: "group:buyers"})
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:kim", Role: "finance-director", Scope: "dept:finance"})
	a, ad := newLifecycle(t, m, noon)
	ctx := context.Background()
	rep, err := reports.Compliance(a.View())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Violations) != 0 || rep.Open() != 0 {
		t.Fatalf("no rules, violations %+v", rep.Violations)
	}
	// The rule arrives while violations exist: accepted, then reported.
	if _, err := ad.Apply(ctx, iam.Change{PutConflicts: sodCity().Conflicts,
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
	if _, err := ad.Apply(ctx, iam.Change{Leave: []iam.Membership{{Member: "user:fran", Group: "group:buyers"}, {Member: "user:kim", Group: "group:buyers"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ad.Assign(ctx, iam.Grant{Subject: "user:fran", Role: "purchasing-agent", Scope: "org"}); !errors.Is(err, iam.ErrConflict) {
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

func TestAccessReviewAndDryRun(t *testing.T) {
	t.Parallel()
	a, _ := newLifecycle(t, sodCity(), noon)
	ctx := context.Background()
	got, err := reports.AccessReview(a.View(), "finance.po.create")
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, e := range got.Entries {
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
	dry, err := reports.DryRunRemove(a.View(), "purchasing-agent", "finance.po.create")
	if err != nil {
		t.Fatal(err)
	}
	if loss := dry.Losses; len(loss) != 4 {
		t.Errorf("DryRunRemove = %+v, want the 4 holders", loss)
	}
	// Nothing changed.
	if d, _ := a.Check(ctx, "user:gina", "finance.po.create", "dept:finance"); !d.Allowed {
		t.Error("dry run changed the policy")
	}
	// fran keeps read through finance-director; the agents' holders lose it.
	if dry, err := reports.DryRunRemove(a.View(), "purchasing-agent", "finance.po.read"); err != nil || len(dry.Losses) != 4 {
		t.Errorf("DryRunRemove read = %+v, %v", dry.Losses, err)
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
	a, _ := newLifecycle(t, sodCity(), noon)
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
