package iamtest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

var clerkModel = rbac.Model{
	Roles:  []rbac.Role{{ID: "permit-clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
	Grants: []rbac.Grant{{Subject: "user:alice", Role: "permit-clerk", Scope: "org"}},
}

// fakeTB records what the kit does to a test, so that a test can assert
// that a bad setup fails the test and that cleanups run.
type fakeTB struct {
	cleanups []func()
	fatal    []string
	errs     []string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Cleanup(fn func())              { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(format, a...)) }
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.fatal = append(f.fatal, fmt.Sprintf(format, a...))
}
func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func check(t *testing.T, a *iam.Authorizer, sub iam.Subject, perm iam.Permission) bool {
	t.Helper()
	d, err := a.Check(context.Background(), sub, perm, "org")
	if err != nil {
		t.Fatalf("Check(%s, %s): %v", sub, perm, err)
	}
	return d.Allowed
}

func TestEnvWritesReachChecksAndEvents(t *testing.T) {
	t.Parallel()
	env := iamtest.New(t, clerkModel)
	if !check(t, env.Authorizer, "user:alice", "permits.application.read") {
		t.Fatal("alice is denied what her grant allows")
	}
	if check(t, env.Authorizer, "user:bob", "permits.application.read") {
		t.Fatal("bob is allowed without a grant")
	}
	ctx := iam.ContextWithActor(context.Background(), "user:admin")
	if _, err := env.Admin.Assign(ctx, rbac.Grant{Subject: "user:bob", Role: "permit-clerk", Scope: "org"}); err != nil {
		t.Fatalf("Assign: %v", err)
	}
	if !check(t, env.Authorizer, "user:bob", "permits.application.read") {
		t.Fatal("a check after Assign does not see the grant")
	}
	got := env.Events.Find(iam.EventRoleAssigned, "user:bob")
	if len(got) != 1 {
		t.Fatalf("role.assigned about bob: %d events (%v), want 1", len(got), env.Events.Types())
	}
	if e := got[0]; e.Actor != "user:admin" || e.Detail["role"] != "permit-clerk" || e.Revision != 2 || e.ID == "" {
		t.Errorf("role.assigned = %+v", e)
	}
	if !got[0].Time.Equal(env.Clock.Now()) {
		t.Errorf("event time %v, want the Env's clock %v", got[0].Time, env.Clock.Now())
	}
}

// TestEnvClockDrivesGrantWindows moves the Env's clock past a grant's end:
// the grant stops granting at that instant, and not before.
func TestEnvClockDrivesGrantWindows(t *testing.T) {
	t.Parallel()
	env := iamtest.New(t, clerkModel)
	end := env.Clock.Now().Add(time.Hour)
	if _, err := env.Admin.Assign(context.Background(), rbac.Grant{Subject: "user:bob", Role: "permit-clerk", Scope: "org", NotAfter: end}); err != nil {
		t.Fatalf("Assign: %v", err)
	}
	env.Clock.Set(end.Add(-time.Nanosecond))
	if !check(t, env.Authorizer, "user:bob", "permits.application.read") {
		t.Fatal("denied just before the grant ends")
	}
	env.Clock.Advance(time.Nanosecond)
	if check(t, env.Authorizer, "user:bob", "permits.application.read") {
		t.Fatal("allowed at the grant's end")
	}
	// The Env gets the production defaults for a store that reports its
	// revision, and a long jump of the clock does not make the in-memory
	// store look stale: the decision confirms the revision first.
	h := env.Authorizer.Health()
	if !h.RevisionSource || h.MaxStaleness <= 0 || h.PollInterval <= 0 {
		t.Errorf("Health = %+v; want the revision poll and a staleness bound, as over a SQL store", h)
	}
	env.Clock.Advance(72 * time.Hour)
	if !check(t, env.Authorizer, "user:alice", "permits.application.read") {
		t.Fatal("alice denied after the clock moved three days")
	}
}

func TestEnvClosesWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	var tb fakeTB
	env := iamtest.New(&tb, clerkModel)
	if len(tb.fatal) != 0 || env == nil {
		t.Fatalf("New failed: %v", tb.fatal)
	}
	if len(tb.cleanups) != 1 {
		t.Fatalf("New registered %d cleanups, want 1", len(tb.cleanups))
	}
	tb.runCleanups()
	if _, err := env.Authorizer.Check(context.Background(), "user:alice", "permits.application.read", "org"); !errors.Is(err, iam.ErrClosed) {
		t.Fatalf("Check after the test ended: %v, want ErrClosed", err)
	}
	if len(tb.errs) != 0 {
		t.Fatalf("Close reported errors: %v", tb.errs)
	}
}

func TestEnvBadSetupFailsTheTest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    rbac.Model
		want string
	}{
		{"grant of a missing role", rbac.Model{Grants: []rbac.Grant{{Subject: "user:alice", Role: "ghost", Scope: "org"}}}, "ghost"},
		{"malformed permission", rbac.Model{Roles: []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"Permits.Application.Read"}}}}, "upper-case"},
		{"look-alike Unicode", rbac.Model{Roles: []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"permits.appl\u0456cation.read"}}}}, "not allowed"},
		{"SQL metacharacters", rbac.Model{Roles: []rbac.Role{{ID: "clerk'; drop table casbin_rule; --", Permissions: []rbac.Permission{"permits.application.read"}}}}, "clerk"},
		{"malformed subject", rbac.Model{Roles: clerkModel.Roles, Grants: []rbac.Grant{{Subject: "alice", Role: "permit-clerk", Scope: "org"}}}, "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tb fakeTB
			env := iamtest.New(&tb, tt.m)
			if env != nil || len(tb.fatal) != 1 {
				t.Fatalf("New = %v, fatal %v; want nil and one Fatalf", env, tb.fatal)
			}
			if !strings.Contains(tb.fatal[0], tt.want) {
				t.Errorf("Fatalf message %q does not mention %q", tb.fatal[0], tt.want)
			}
			if len(tb.cleanups) != 0 {
				t.Errorf("a failed New registered %d cleanups", len(tb.cleanups))
			}
		})
	}
}

// TestEnvOptionsComeLast: an option the test passes replaces the Env's.
// A sink of its own receives the decision events (here a refused
// change); the change events still come through the outbox to Events.
func TestEnvOptionsComeLast(t *testing.T) {
	t.Parallel()
	var own iamtest.Recorder
	m := clerkModel.Clone()
	m.Roles = append(m.Roles, rbac.Role{ID: "approver", Permissions: []rbac.Permission{"permits.application.approve"}})
	m.Conflicts = []rbac.ConflictRule{{ID: "clerk-approver", Roles: [2]rbac.RoleID{"permit-clerk", "approver"}}}
	env := iamtest.New(t, m, iam.WithAuditSink(&own))
	if _, err := env.Admin.Assign(context.Background(), rbac.Grant{Subject: "user:bob", Role: "permit-clerk", Scope: "org"}); err != nil {
		t.Fatalf("Assign: %v", err)
	}
	if _, err := env.Admin.Assign(context.Background(), rbac.Grant{Subject: "user:alice", Role: "approver", Scope: "org"}); !errors.Is(err, iam.ErrConflict) {
		t.Fatalf("conflicting Assign: %v, want ErrConflict", err)
	}
	if got := own.Types(); !slices.Equal(got, []string{iam.EventRoleAssignmentBlocked}) {
		t.Errorf("the test's sink got %v, want the refused change only", got)
	}
	if got := env.Events.Types(); !slices.Equal(got, []string{iam.EventRoleAssigned}) {
		t.Errorf("Events got %v, want role.assigned from the outbox", got)
	}
}

// TestEnvSinkAdmin: the other construction, iam.NewAdmin over the same
// store, delivers the same change events to Events through the sink, and
// leaves nothing in the outbox.
func TestEnvSinkAdmin(t *testing.T) {
	t.Parallel()
	env := iamtest.New(t, clerkModel)
	admin := iam.NewAdmin(env.Authorizer, env.Store)
	if _, err := admin.Assign(context.Background(), rbac.Grant{Subject: "user:bob", Role: "permit-clerk", Scope: "org"}); err != nil {
		t.Fatalf("Assign: %v", err)
	}
	if got := env.Events.Find(iam.EventRoleAssigned, "user:bob"); len(got) != 1 {
		t.Fatalf("role.assigned about bob: %v", env.Events.Types())
	}
	if env.Store.Pending() != 0 {
		t.Errorf("%d events in the outbox after a NewAdmin write", env.Store.Pending())
	}
}

func TestNewAuthorizer(t *testing.T) {
	t.Parallel()
	a := iamtest.NewAuthorizer(t, clerkModel)
	if !check(t, a, "user:alice", "permits.application.read") {
		t.Fatal("alice denied")
	}
}
