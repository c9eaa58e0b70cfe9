package sso_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
)

const tenant = "6f1c2e4a-0000-4000-8000-000000000001"

func entra() sso.Provider {
	return sso.Provider{
		Name:                "entra",
		EmailDomains:        []string{"lakeview.ca"},
		JIT:                 &sso.JIT{Tenants: []string{tenant}, Domains: []string{"lakeview.ca"}},
		DepartmentAttribute: "department",
		Mappings: []sso.Mapping{
			{Group: "g-bylaw", Role: "bylaw-officer", Scope: sso.UserDepartment},
			{Group: "g-voiders", Role: "ticket-voider", Scope: "dept:bylaw"},
			{Attribute: "jobTitle", Value: "Clerk", Role: "clerk", Scope: "dept:building"},
			{Group: "g-bylaw", Member: "group:bylaw-staff"},
		},
	}
}

func staff(key string) sso.Identity {
	return sso.Identity{
		Provider: "entra", Key: tenant + "/" + key, Tenant: tenant, Method: session.MethodOIDC,
		Email: "Sam.Girard@lakeview.ca", EmailVerified: true, Name: "Sam Girard",
		Groups: []string{"g-bylaw"}, Attributes: map[string][]string{"department": {"bylaw"}},
		MFA: true, AMR: []string{"pwd", "mfa"},
	}
}

func TestJITProvisionsAndMaps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, entra())
	res, err := f.svc.SignIn(ctx, staff("oid-1"), session.Client{})
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	if !res.Provisioned || !res.Linked || res.User.Email != "sam.girard@lakeview.ca" || res.User.Department != "bylaw" {
		t.Fatalf("result = %+v", res)
	}
	if !res.Session.Methods.Has(session.MethodOIDC) || res.Session.Level != session.LevelMFA || res.Session.MFA != session.MFADone {
		t.Errorf("session = %+v, want oidc and MFA done", res.Session)
	}
	want := rbac.GrantKey{Subject: "user:sam.girard@lakeview.ca", Role: "bylaw-officer", Scope: "dept:bylaw"}
	if got := f.grants(t, want.Subject); !slices.Contains(got, want) {
		t.Errorf("grants = %v, want %v", got, want)
	}
	d, err := f.authz.Check(ctx, want.Subject, "bylaw.ticket.create", "dept:bylaw")
	if err != nil || !d.Allowed {
		t.Errorf("check = %+v, %v", d, err)
	}
	for _, typ := range []string{"user.provisioned", "sso.linked", "sso.mapping.applied", "sso.signed_in"} {
		if f.events.count(typ) != 1 {
			t.Errorf("events %v: want one %s", f.events.types(), typ)
		}
	}
	// Second sign-in: same user, nothing new to grant.
	res2, err := f.svc.SignIn(ctx, staff("oid-1"), session.Client{})
	if err != nil || res2.User.ID != res.User.ID || res2.Provisioned || res2.Linked || len(res2.Granted) != 0 {
		t.Fatalf("second sign-in = %+v, %v", res2, err)
	}
	if res2.Session.ID == res.Session.ID {
		t.Error("a new sign-in must get a new session id")
	}
}

func TestGroupRemovedRevokes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, entra())
	id := staff("oid-2")
	if _, err := f.svc.SignIn(ctx, id, session.Client{}); err != nil {
		t.Fatal(err)
	}
	id.Groups = nil
	res, err := f.svc.SignIn(ctx, id, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Revoked) != 1 || len(res.Left) != 1 {
		t.Fatalf("revoked %v left %v", res.Revoked, res.Left)
	}
	if got := f.grants(t, "user:sam.girard@lakeview.ca"); len(got) != 0 {
		t.Errorf("grants after leaving the group = %v", got)
	}
}

func TestGroupOverageIsUnknownNotEmpty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, entra())
	id := staff("oid-3")
	if _, err := f.svc.SignIn(ctx, id, session.Client{}); err != nil {
		t.Fatal(err)
	}
	id.Groups, id.GroupsUnknown = nil, true
	res, err := f.svc.SignIn(ctx, id, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.GroupsUnknown || len(res.Revoked) != 0 || len(res.Granted) != 0 || len(res.Left) != 0 {
		t.Fatalf("overage result = %+v: unknown groups must change no group mapping", res)
	}
	if f.events.count("sso.groups.unknown") != 1 {
		t.Errorf("events %v", f.events.types())
	}
	// A new user whose groups are unknown gets no group-based grant.
	id2 := staff("oid-4")
	id2.Email = "new.person@lakeview.ca"
	id2.GroupsUnknown = true
	res, err = f.svc.SignIn(ctx, id2, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Granted) != 0 || len(res.Joined) != 0 {
		t.Errorf("unknown groups granted %v joined %v", res.Granted, res.Joined)
	}
	// Once the groups are known and the group is gone, the grant goes.
	id.GroupsUnknown = false
	res, err = f.svc.SignIn(ctx, id, session.Client{})
	if err != nil || len(res.Revoked) != 1 {
		t.Fatalf("known again: %+v, %v", res, err)
	}
}

func TestSoDRefusalCreatesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, entra())
	id := staff("oid-5")
	id.Groups = []string{"g-bylaw", "g-voiders"}
	_, err := f.svc.SignIn(ctx, id, session.Client{})
	if !errors.Is(err, sso.ErrMapping) || !errors.Is(err, rbac.ErrConflict) {
		t.Fatalf("err = %v, want ErrMapping wrapping rbac.ErrConflict", err)
	}
	f.nothingCreated(t)
}

func (f *fixture) nothingCreated(t *testing.T) {
	t.Helper()
	if n := f.links.Count(); n != 0 {
		t.Errorf("%d links created", n)
	}
	if f.sessions.n != 0 {
		t.Errorf("%d sessions created", f.sessions.n)
	}
	if _, err := f.users.UserByEmail(context.Background(), "sam.girard@lakeview.ca"); !errors.Is(err, signin.ErrNotFound) {
		t.Errorf("user created: %v", err)
	}
	if f.events.count("sso.refused") == 0 {
		t.Errorf("no sso.refused event: %v", f.events.types())
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	noJIT := entra()
	noJIT.JIT = nil
	tests := []struct {
		name  string
		p     sso.Provider
		edit  func(*sso.Identity)
		setup func(*fixture)
		want  error
	}{
		{name: "unknown provider", p: entra(), edit: func(i *sso.Identity) { i.Provider = "okta" }, want: sso.ErrUnknownProvider},
		{name: "empty key", p: entra(), edit: func(i *sso.Identity) { i.Key = "" }, want: sso.ErrInvalidClaim},
		{name: "oversized key", p: entra(), edit: func(i *sso.Identity) { i.Key = string(make([]byte, 300)) }, want: sso.ErrInvalidClaim},
		{name: "key with control", p: entra(), edit: func(i *sso.Identity) { i.Key = "a\x00b" }, want: sso.ErrInvalidClaim},
		{name: "cyrillic look-alike email", p: entra(), edit: func(i *sso.Identity) { i.Email = "sаm.girard@lakeview.ca" }, want: sso.ErrInvalidClaim},
		{name: "fullwidth at", p: entra(), edit: func(i *sso.Identity) { i.Email = "sam.girard＠lakeview.ca" }, want: sso.ErrInvalidClaim},
		{name: "email with display name", p: entra(), edit: func(i *sso.Identity) { i.Email = "Boss <sam.girard@lakeview.ca>" }, want: sso.ErrInvalidClaim},
		{name: "email with comment", p: entra(), edit: func(i *sso.Identity) { i.Email = "sam.girard(x)@lakeview.ca" }, want: sso.ErrInvalidClaim},
		{name: "sql metacharacters in key", p: entra(), edit: func(i *sso.Identity) { i.Key = "x' OR '1'='1" }, want: sso.ErrInvalidClaim},
		{name: "wrong tenant", p: entra(), edit: func(i *sso.Identity) { i.Tenant = "other" }, want: sso.ErrNotAllowed},
		{name: "unverified email", p: entra(), edit: func(i *sso.Identity) { i.EmailVerified = false }, want: sso.ErrNotAllowed},
		{name: "foreign domain", p: entra(), edit: func(i *sso.Identity) { i.Email = "sam@evil.example" }, want: sso.ErrNotAllowed},
		{name: "look-alike domain", p: entra(), edit: func(i *sso.Identity) { i.Email = "sam@lakeview.ca.evil.example" }, want: sso.ErrNotAllowed},
		{name: "no jit", p: noJIT, edit: func(i *sso.Identity) { i.Email = "new@lakeview.ca" }, want: sso.ErrNoAccount},
		{name: "wrong method", p: entra(), edit: func(i *sso.Identity) { i.Method = session.MethodPassword }, want: sso.ErrInvalidClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.p)
			id := staff("oid-x")
			tt.edit(&id)
			_, err := f.svc.SignIn(context.Background(), id, session.Client{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			f.nothingCreated(t)
		})
	}
}

func TestEmailLinking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	existing := signin.User{ID: "sgirard", Email: "sam.girard@lakeview.ca", Department: "bylaw"}

	t.Run("authoritative and verified links", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, entra())
		if err := f.users.CreateUser(ctx, mustNorm(t, existing)); err != nil {
			t.Fatal(err)
		}
		res, err := f.svc.SignIn(ctx, staff("oid-6"), session.Client{})
		if err != nil || res.User.ID != "sgirard" || !res.Linked || res.Provisioned {
			t.Fatalf("res = %+v, %v", res, err)
		}
	})
	t.Run("unverified email never links", func(t *testing.T) {
		t.Parallel()
		p := entra()
		p.JIT = nil
		f := newFixture(t, p)
		if err := f.users.CreateUser(ctx, mustNorm(t, existing)); err != nil {
			t.Fatal(err)
		}
		id := staff("oid-7")
		id.EmailVerified = false
		if _, err := f.svc.SignIn(ctx, id, session.Client{}); !errors.Is(err, sso.ErrNoAccount) {
			t.Fatalf("err = %v, want ErrNoAccount", err)
		}
	})
	t.Run("non-authoritative provider never links, and JIT cannot take the email", func(t *testing.T) {
		t.Parallel()
		p := entra()
		p.EmailDomains = nil
		f := newFixture(t, p)
		if err := f.users.CreateUser(ctx, mustNorm(t, existing)); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.SignIn(ctx, staff("oid-8"), session.Client{})
		if !errors.Is(err, sso.ErrAccountConflict) {
			t.Fatalf("err = %v, want ErrAccountConflict", err)
		}
		if n := f.links.Count(); n != 0 {
			t.Errorf("%d links", n)
		}
		// No grant was left behind by the mapping either.
		if got := f.grants(t, "user:sam.girard@lakeview.ca"); len(got) != 0 {
			t.Errorf("grants left behind: %v", got)
		}
	})
	t.Run("suspended user refused", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, entra())
		u := existing
		u.Status = signin.StatusSuspended
		if err := f.users.CreateUser(ctx, mustNorm(t, u)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SignIn(ctx, staff("oid-9"), session.Client{}); !errors.Is(err, sso.ErrInactive) {
			t.Fatalf("err = %v, want ErrInactive", err)
		}
	})
}

func mustNorm(t *testing.T, u signin.User) signin.User {
	t.Helper()
	u, err := u.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestConfigRefused(t *testing.T) {
	t.Parallel()
	bad := []sso.Provider{
		{},
		{Name: "x", JIT: &sso.JIT{}},
		{Name: "x", Mappings: []sso.Mapping{{Role: "r", Scope: "dept:a"}}},
		{Name: "x", Mappings: []sso.Mapping{{Group: "g", Role: "r", Scope: "nowhere"}}},
		{Name: "x", Mappings: []sso.Mapping{{Group: "g", Member: "user:bob"}}},
		{Name: "x", Mappings: []sso.Mapping{{Group: "g", Attribute: "a", Value: "b", Role: "r", Scope: "org"}}},
	}
	for i, p := range bad {
		if _, err := sso.New(signin.NewMemStore(), sso.NewMemLinks(), &counting{}, []sso.Provider{p}, sso.WithAssigner(nil)); !errors.Is(err, sso.ErrInvalidConfig) {
			t.Errorf("%d: err = %v, want ErrInvalidConfig", i, err)
		}
	}
}

// TestStepUpAfterSingleFactorSSO: a provider that asserted no second
// factor gives a single-factor session, which a local TOTP step-up then
// raises to multi-factor (a new session id; the old token ends).
func TestStepUpAfterSingleFactorSSO(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, entra())
	id := staff("oid-10")
	id.MFA, id.AMR = false, []string{"pwd"}
	res, err := f.svc.SignIn(ctx, id, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Session.Level != session.LevelPassword || res.Session.MFA != session.MFANotRequired {
		t.Fatalf("session = %+v, want single-factor", res.Session)
	}
	up, tok, err := f.mgr.CompleteMFA(ctx, res.Token, session.MethodTOTP)
	if err != nil {
		t.Fatal(err)
	}
	if up.Level != session.LevelMFA || !up.Methods.Has(session.MethodOIDC) || !up.Methods.Has(session.MethodTOTP) || up.ID == res.Session.ID {
		t.Fatalf("after step-up: %+v", up)
	}
	if _, err := f.mgr.Verify(ctx, res.Token); err == nil {
		t.Error("the pre-step-up token still works")
	}
	if _, err := f.mgr.Verify(ctx, tok); err != nil {
		t.Errorf("stepped-up token: %v", err)
	}
}
