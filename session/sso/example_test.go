package sso_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
)

// A verified identity from the city's Entra tenant: the first sign-in
// creates the user and maps the bylaw group to the bylaw-officer role at
// the user's department; an identity from elsewhere is refused.
func ExampleService_SignIn() {
	ctx := context.Background()
	key, err := session.GenerateKey(session.EdDSA, "k1")
	if err != nil {
		fmt.Println(err)
		return
	}
	ring, err := session.NewKeyring(key)
	if err != nil {
		fmt.Println(err)
		return
	}
	sessions, err := session.New(session.NewMemoryStore(), ring)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sessions.Close()
	store := iamtest.NewStore(rbac.Model{
		Roles:  []rbac.Role{{ID: "bylaw-officer", Permissions: []rbac.Permission{"bylaw.ticket.create"}}},
		Scopes: []rbac.ScopeNode{{Scope: "dept:bylaw", Parent: "org"}},
	})
	authz, err := iam.New(ctx, store)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer authz.Close()
	const tenant = "5b2f7c1e-3a4d-4e8f-9a0b-1c2d3e4f5a6b"
	svc, err := sso.New(signin.NewMemStore(), sso.NewMemLinks(), sessions, []sso.Provider{{
		Name:                "entra",
		JIT:                 &sso.JIT{Tenants: []string{tenant}, Domains: []string{"lakeview.ca"}},
		DepartmentAttribute: "department",
		Mappings:            []sso.Mapping{{Group: "g-bylaw", Role: "bylaw-officer", Scope: sso.UserDepartment}},
	}}, sso.WithAssigner(iam.NewAdmin(authz, store)))
	if err != nil {
		fmt.Println(err)
		return
	}

	id := sso.Identity{Provider: "entra", Key: tenant + "/0f1e2d3c", Tenant: tenant, Method: session.MethodOIDC,
		Email: "sam.girard@lakeview.ca", EmailVerified: true, Groups: []string{"g-bylaw"},
		Attributes: map[string][]string{"department": {"bylaw"}}, MFA: true}
	res, err := svc.SignIn(ctx, id, session.Client{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.User.Subject(), res.Provisioned, res.Session.Level, res.Granted)

	id.Key, id.Tenant = "other-tenant/0f1e2d3c", "other-tenant"
	_, err = svc.SignIn(ctx, id, session.Client{})
	fmt.Println(errors.Is(err, sso.ErrNotAllowed))
	// Output:
	// user:sam.girard@lakeview.ca true multi-factor [user:sam.girard@lakeview.ca bylaw-officer@dept:bylaw]
	// true
}
