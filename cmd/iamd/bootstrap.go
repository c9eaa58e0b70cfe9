package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/restapi"
	"github.com/civic-platform/security/session/signin"
)

const (
	bootstrapUser  = "admin"
	bootstrapEmail = "admin@localhost"
	// bootstrapRole is held by the bootstrap administrator until their
	// one-time password is changed: it grants nothing.
	bootstrapRole iam.RoleID = "iam-bootstrap"
)

// bootstrap makes sure the API's roles exist and, the first time, creates
// the bootstrap administrator with a one-time password printed to out.
func bootstrap(ctx context.Context, authz *iam.Authorizer, admin *iam.Admin, signins *signin.Service, out io.Writer) error {
	roles := authz.View().Model().Roles
	var put []iam.Role
	if !slices.ContainsFunc(roles, func(r iam.Role) bool { return r.ID == restapi.AdminRole.ID }) {
		put = append(put, restapi.AdminRole)
	}
	if !slices.ContainsFunc(roles, func(r iam.Role) bool { return r.ID == bootstrapRole }) {
		put = append(put, iam.Role{ID: bootstrapRole, Labels: map[string]string{"en": "Bootstrap administrator (password change pending)", "fr": "Administrateur initial (changement de mot de passe en attente)"}})
	}
	if len(put) > 0 {
		if _, err := admin.Apply(ctx, iam.Change{PutRoles: put}); err != nil {
			return err
		}
	}
	_, err := signins.Store().User(ctx, bootstrapUser)
	switch {
	case err == nil:
		return nil // created once, on the first start
	case !errors.Is(err, signin.ErrNotFound):
		return err
	}
	pw, err := oneTimePassword()
	if err != nil {
		return err
	}
	if _, err := signins.CreateUser(ctx, signin.User{ID: bootstrapUser, Email: bootstrapEmail, DisplayName: "Bootstrap administrator"}); err != nil {
		return err
	}
	if err := signins.SetPassword(ctx, bootstrapUser, pw); err != nil {
		return err
	}
	if _, err := admin.Assign(ctx, iam.Grant{Subject: "user:" + bootstrapUser, Role: bootstrapRole, Scope: iam.OrgScope,
		Reason: "bootstrap administrator: password change pending"}); err != nil {
		return err
	}
	fmt.Fprintf(out, `Bootstrap administrator created (shown once):
  email:    %s
  password: %s
Sign in with POST %s/auth/login, then change the password with
POST %s/users/me/password; until then the account holds no permission.
`, bootstrapEmail, pw, restapi.Prefix, restapi.Prefix)
	return nil
}

// promoteBootstrap returns the password-change hook: the bootstrap
// administrator who replaced the one-time password gets iam-admin at org,
// in the same change that removes the bootstrap role.
func promoteBootstrap(admin *iam.Admin) func(ctx context.Context, userID string) error {
	return func(ctx context.Context, userID string) error {
		if userID != bootstrapUser {
			return nil
		}
		sub := iam.Subject("user:" + bootstrapUser)
		_, err := admin.Apply(ctx, iam.Change{
			Revoke: []iam.GrantKey{{Subject: sub, Role: bootstrapRole, Scope: iam.OrgScope}},
			Grant:  []iam.Grant{{Subject: sub, Role: restapi.AdminRole.ID, Scope: iam.OrgScope, Reason: "bootstrap administrator changed the one-time password"}},
		})
		if errors.Is(err, iam.ErrNotFound) || errors.Is(err, iam.ErrInvalidInput) {
			return nil // already promoted
		}
		return err
	}
}

// oneTimePassword returns 26 random base32 characters (128 bits).
func oneTimePassword() (string, error) { return rand.Text(), nil }
