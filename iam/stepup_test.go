package iam_test

import (
	"context"
	"errors"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
)

func stepUpAuthorizer(t *testing.T, opts ...iam.Option) *iam.Authorizer {
	t.Helper()
	m := rbac.Model{
		Roles:  []rbac.Role{{ID: "privacy", Permissions: []rbac.Permission{"crm.citizen.sin.view", "crm.citizen.email.view", "finance.ap.payment.release", "permits.application.read"}}},
		Grants: []rbac.Grant{{Subject: "user:alice", Role: "privacy", Scope: "org"}},
	}
	a, err := iam.New(context.Background(), iamtest.NewStore(m), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// A permission marked as requiring MFA answers "step-up" for a session
// without a second factor, allow for one with it; unmarked permissions and
// policy denials are unchanged.
func TestCheckSessionStepUp(t *testing.T) {
	ctx := context.Background()
	a := stepUpAuthorizer(t, iam.WithMFARequired("crm.citizen.sin.*", "finance.ap.payment.release"))
	single := session.Session{Subject: "user:alice", Methods: session.Methods(0).With(session.MethodPassword), Level: session.LevelPassword, MFA: session.MFANotRequired}
	pending := single
	pending.MFA = session.MFAPending
	multi := single
	multi.MFA, multi.Level = session.MFADone, session.LevelMFA
	for _, tc := range []struct {
		s       session.Session
		perm    iam.Permission
		allowed bool
		stepUp  bool
	}{
		{single, "crm.citizen.sin.view", false, true},
		{pending, "crm.citizen.sin.view", false, true},
		{multi, "crm.citizen.sin.view", true, false},
		{single, "finance.ap.payment.release", false, true},
		{multi, "finance.ap.payment.release", true, false},
		{single, "crm.citizen.email.view", true, false}, // not marked
		{single, "permits.application.read", true, false},
		{multi, "permits.application.approve", false, false}, // policy denies: no step-up
	} {
		d, err := a.CheckSession(ctx, tc.s, tc.perm, "ward:3")
		if err != nil || d.Allowed != tc.allowed || d.StepUp != tc.stepUp {
			t.Errorf("%s with MFA %s: %+v, %v; want allowed %t, step-up %t", tc.perm, tc.s.MFA, d, err, tc.allowed, tc.stepUp)
		}
		err = a.RequireSession(ctx, tc.s, tc.perm, "ward:3")
		switch {
		case tc.allowed && err != nil:
			t.Errorf("RequireSession %s: %v", tc.perm, err)
		case tc.stepUp && (!errors.Is(err, iam.ErrStepUp) || !errors.Is(err, iam.ErrDenied)):
			t.Errorf("RequireSession %s: %v, want ErrStepUp and ErrDenied", tc.perm, err)
		case !tc.allowed && !tc.stepUp && (!errors.Is(err, iam.ErrDenied) || errors.Is(err, iam.ErrStepUp)):
			t.Errorf("RequireSession %s: %v, want a plain denial", tc.perm, err)
		}
	}
	// Check, which knows no session, is unchanged.
	if d, err := a.Check(ctx, "user:alice", "crm.citizen.sin.view", "ward:3"); err != nil || !d.Allowed || d.StepUp {
		t.Fatalf("Check = %+v, %v", d, err)
	}
	if !a.RequiresMFA("crm.citizen.sin.view") || a.RequiresMFA("crm.citizen.email.view") {
		t.Fatal("RequiresMFA")
	}
	// Without the option nothing needs MFA.
	plain := stepUpAuthorizer(t)
	if d, err := plain.CheckSession(ctx, single, "crm.citizen.sin.view", "org"); err != nil || !d.Allowed {
		t.Fatalf("no option: %+v, %v", d, err)
	}
}

func TestWithMFARequiredRefusesMalformed(t *testing.T) {
	for _, p := range []iam.Permission{"", "crm", "CRM.citizen.sin.view", "crm.*.view", "*"} {
		_, err := iam.New(context.Background(), iamtest.NewStore(rbac.Model{}), iam.WithMFARequired(p))
		if !errors.Is(err, iam.ErrInvalidInput) {
			t.Errorf("WithMFARequired(%q): %v, want ErrInvalidInput", p, err)
		}
	}
}
