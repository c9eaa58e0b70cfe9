package iam_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
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

// A permission marked as requiring MFA answers "step-up" for a caller
// without a second factor, allow for one with it; unmarked permissions and
// policy denials are unchanged. CheckAuthenticated, RequireAuthenticated
// and CheckMany with Authn agree.
func TestCheckAuthenticatedStepUp(t *testing.T) {
	ctx := context.Background()
	a := stepUpAuthorizer(t, iam.WithMFARequired("crm.citizen.sin.*", "finance.ap.payment.release"))
	at := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	single := iam.Authn{Subject: "user:alice", Methods: []string{"password"}, At: at}
	multi := single
	multi.Methods, multi.MFA = []string{"password", "totp"}, true
	for _, tc := range []struct {
		authn   iam.Authn
		perm    iam.Permission
		allowed bool
		stepUp  bool
	}{
		{single, "crm.citizen.sin.view", false, true},
		{iam.Authn{Subject: "user:alice"}, "crm.citizen.sin.view", false, true}, // nothing known: no second factor
		{multi, "crm.citizen.sin.view", true, false},
		{single, "finance.ap.payment.release", false, true},
		{multi, "finance.ap.payment.release", true, false},
		{single, "crm.citizen.email.view", true, false}, // not marked
		{single, "permits.application.read", true, false},
		{multi, "permits.application.approve", false, false}, // policy denies: no step-up
	} {
		d, err := iam.CheckAuthenticated(ctx, a, tc.authn, tc.perm, "ward:3")
		if err != nil || d.Allowed != tc.allowed || d.StepUp != tc.stepUp {
			t.Errorf("%s with MFA %t: %+v, %v; want allowed %t, step-up %t", tc.perm, tc.authn.MFA, d, err, tc.allowed, tc.stepUp)
		}
		authn := tc.authn
		ds, err := a.CheckMany(ctx, []iam.Request{{Subject: "user:alice", Permission: tc.perm, Scope: "ward:3", Authn: &authn}})
		if err != nil || ds[0] != d {
			t.Errorf("CheckMany %s with MFA %t: %+v, %v; want %+v", tc.perm, tc.authn.MFA, ds, err, d)
		}
		err = iam.RequireAuthenticated(ctx, a, tc.authn, tc.perm, "ward:3")
		switch {
		case tc.allowed && err != nil:
			t.Errorf("RequireAuthenticated %s: %v", tc.perm, err)
		case tc.stepUp && (!errors.Is(err, iam.ErrStepUp) || !errors.Is(err, iam.ErrDenied)):
			t.Errorf("RequireAuthenticated %s: %v, want ErrStepUp and ErrDenied", tc.perm, err)
		case !tc.allowed && !tc.stepUp && (!errors.Is(err, iam.ErrDenied) || errors.Is(err, iam.ErrStepUp)):
			t.Errorf("RequireAuthenticated %s: %v, want a plain denial", tc.perm, err)
		}
	}
	// Check, and CheckMany without Authn, know no authentication: unchanged.
	if d, err := a.Check(ctx, "user:alice", "crm.citizen.sin.view", "ward:3"); err != nil || !d.Allowed || d.StepUp {
		t.Fatalf("Check = %+v, %v", d, err)
	}
	if ds, err := a.CheckMany(ctx, []iam.Request{{Subject: "user:alice", Permission: "crm.citizen.sin.view", Scope: "ward:3"}}); err != nil || !ds[0].Allowed {
		t.Fatalf("CheckMany without Authn = %+v, %v", ds, err)
	}
	if !iam.RequiresMFA(a, "crm.citizen.sin.view") || iam.RequiresMFA(a, "crm.citizen.email.view") || iam.RequiresMFA(nil, "crm.citizen.sin.view") {
		t.Fatal("RequiresMFA")
	}
	// Without the option nothing needs MFA.
	plain := stepUpAuthorizer(t)
	if d, err := iam.CheckAuthenticated(ctx, plain, single, "crm.citizen.sin.view", "org"); err != nil || !d.Allowed {
		t.Fatalf("no option: %+v, %v", d, err)
	}
}

// Bad authentication facts fail closed with ErrInvalidInput: no subject, a
// malformed one, or a batch request whose Authn names someone else.
func TestCheckAuthenticatedBadInput(t *testing.T) {
	ctx := context.Background()
	a := stepUpAuthorizer(t, iam.WithMFARequired("crm.citizen.sin.*"))
	for _, sub := range []iam.Subject{"", "alice", "user:", "user:alice;drop table", "user:\u0430lice"} {
		d, err := iam.CheckAuthenticated(ctx, a, iam.Authn{Subject: sub, MFA: true}, "crm.citizen.sin.view", "org")
		if d.Allowed || !errors.Is(err, iam.ErrInvalidInput) {
			t.Errorf("subject %q: %+v, %v; want a denial wrapping ErrInvalidInput", sub, d, err)
		}
	}
	other := iam.Authn{Subject: "user:mallory", MFA: true}
	ds, err := a.CheckMany(ctx, []iam.Request{
		{Subject: "user:alice", Permission: "crm.citizen.sin.view", Scope: "org", Authn: &other},
		{Subject: "user:alice", Permission: "crm.citizen.email.view", Scope: "org", Authn: &iam.Authn{MFA: true}},
	})
	if ds[0].Allowed || !errors.Is(err, iam.ErrInvalidInput) || !ds[1].Allowed {
		t.Fatalf("CheckMany with a mismatched Authn = %+v, %v; want the first denied as invalid input, the second allowed", ds, err)
	}
	if _, err := iam.CheckAuthenticated(ctx, nil, iam.Authn{Subject: "user:alice"}, "crm.citizen.sin.view", "org"); !errors.Is(err, iam.ErrClosed) {
		t.Fatalf("nil Authorizer: %v, want ErrClosed", err)
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
