package reports_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

var viewNoon = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func viewAuthorizer(t *testing.T, opts ...iam.Option) (*iam.Authorizer, *iamtest.Store) {
	t.Helper()
	st := iamtest.NewStore(financeModel())
	a, err := iam.New(context.Background(), st, append([]iam.Option{iam.WithClock(iamtest.Clock(viewNoon))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, st
}

// A View is read-only: changing the model it returns changes neither the
// view nor the Authorizer's decisions.
func TestViewCannotChangeTheSnapshot(t *testing.T) {
	t.Parallel()
	a, _ := viewAuthorizer(t)
	v := a.View()
	if v.Err() != nil || v.Revision() != 1 || !v.At().Equal(viewNoon) || v.Policy() == nil {
		t.Fatalf("view: err %v, revision %d, at %v", v.Err(), v.Revision(), v.At())
	}
	m := v.Model()
	m.Grants[0].Subject = "user:pat"
	m.Roles[0].Permissions[0] = "finance.po.approve"
	m.Grants = append(m.Grants, iam.Grant{Subject: "user:pat", Role: "finance-director", Scope: "org"})
	again := v.Model()
	if again.Grants[0].Subject != "user:fran" || len(again.Grants) != 1 || again.Roles[0].Permissions[0] != "finance.po.create" {
		t.Fatalf("the view's model changed through a copy: %+v", again)
	}
	if d, _ := a.Check(context.Background(), "user:pat", "finance.po.approve", "dept:finance"); d.Allowed {
		t.Fatal("a change to the copy reached the Authorizer")
	}
}

// A view taken after a write sees it; one taken before keeps answering
// for its own revision, so one report is consistent.
func TestViewKeepsItsRevision(t *testing.T) {
	t.Parallel()
	a, st := viewAuthorizer(t)
	before := a.View()
	if _, err := iam.NewAdmin(a, st).Assign(context.Background(), iam.Grant{Subject: "user:rae", Role: "purchasing-agent", Scope: "dept:parks"}); err != nil {
		t.Fatal(err)
	}
	after := a.View()
	has := func(v *iam.View) bool {
		as, err := reports.Assignments(v, "user:rae")
		if err != nil {
			t.Fatal(err)
		}
		return len(as.Grants) == 1
	}
	if has(before) || !has(after) || before.Revision() >= after.Revision() {
		t.Fatalf("before: rev %d has %t; after: rev %d has %t", before.Revision(), has(before), after.Revision(), has(after))
	}
}

// Every report refuses a view of a closed or stale Authorizer (fails
// closed) rather than describe a policy that may be out of date.
func TestReportsRefuseUnusableViews(t *testing.T) {
	t.Parallel()
	closed, _ := viewAuthorizer(t)
	closed.Close()
	stale, _ := viewAuthorizer(t, iam.WithMaxStaleness(time.Nanosecond), iam.WithClock(func() time.Time { return time.Now() }))
	time.Sleep(time.Millisecond)
	for name, tc := range map[string]struct {
		v    *iam.View
		want error
	}{
		"closed": {closed.View(), iam.ErrClosed},
		"nil":    {nil, iam.ErrClosed},
		"stale":  {stale.View(), iam.ErrStale},
	} {
		errs := map[string]error{}
		_, errs["Compliance"] = reports.Compliance(tc.v)
		_, errs["Certification"] = reports.Certification(tc.v, "dept:finance")
		_, errs["AccessReview"] = reports.AccessReview(tc.v, "finance.po.read")
		_, errs["DryRunRemove"] = reports.DryRunRemove(tc.v, "purchasing-agent", "finance.po.create")
		_, errs["Assignments"] = reports.Assignments(tc.v, "user:pat")
		for report, err := range errs {
			if !errors.Is(err, tc.want) {
				t.Errorf("%s on a %s view: %v; want %v", report, name, err, tc.want)
			}
		}
	}
}

// Reports ask rbac what a role carries: the permissions listed for a
// certified grant are exactly those a subject holding only that role at
// org may use, deny rules and wildcards applied, for every role.
func TestCertificationPermissionsAgreeWithChecks(t *testing.T) {
	t.Parallel()
	m := financeModel()
	m.Scopes = append(m.Scopes, rbac.ScopeNode{Scope: "facility:annex", Parent: "dept:finance"})
	m.Permissions = append(m.Permissions, "finance.po.void", "finance.gl.journal.post")
	m.Roles = append(m.Roles,
		rbac.Role{ID: "buyer-lead", Inherits: []rbac.RoleID{"purchasing-agent"}, Permissions: []rbac.Permission{"finance.*"}, Deny: []rbac.Permission{"finance.po.approve"}})
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:lee", Role: "buyer-lead", Scope: "facility:annex"})
	a, err := iam.New(context.Background(), iamtest.NewStore(m), iam.WithClock(iamtest.Clock(viewNoon)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rep, err := reports.Certification(a.View(), "dept:finance")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, row := range rep.Rows {
		// Each subject here holds this one grant: what a check lets them
		// use at the grant's scope is what the role carries.
		want, err := a.Permissions(context.Background(), row.Subject, row.Scope)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(want, row.Permissions) {
			t.Errorf("%s: permissions %v; checks allow %v", row.Role, row.Permissions, want)
		}
		if row.Role == "buyer-lead" {
			seen++
			if slices.Contains(row.Permissions, "finance.po.approve") || !slices.Contains(row.Permissions, "finance.po.void") {
				t.Errorf("buyer-lead carries %v; want the wildcard expanded less the deny", row.Permissions)
			}
		}
	}
	if seen != 1 {
		t.Fatalf("the grant at a facility under the department is not certified once: %+v", rep.Rows)
	}
}
