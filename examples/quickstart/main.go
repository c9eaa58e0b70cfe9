package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// city is a small municipality: a building department with a permit desk,
// a privacy officer, finance with a composite role, and an acting chief
// building official whose appointment has ended.
func city(now time.Time) rbac.Model {
	return rbac.Model{
		Permissions: []rbac.Permission{"crm.citizen.sin.view", "crm.citizen.email.view"},
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:building"}, {Scope: "dept:finance"},
			{Scope: "facility:city-hall", Parent: "dept:building"},
			{Scope: "ward:3"}, {Scope: "ward:7"},
		},
		Roles: []rbac.Role{
			{ID: "base-user", Labels: map[string]string{"en": "Base user", "fr": "Utilisateur de base"},
				Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "permit-clerk", Inherits: []rbac.RoleID{"base-user"},
				Permissions: []rbac.Permission{"permits.application.create"}},
			{ID: "cbo", Inherits: []rbac.RoleID{"permit-clerk"}, Permissions: []rbac.Permission{"permits.*"}},
			{ID: "privacy-officer", Permissions: []rbac.Permission{"crm.citizen.*"},
				Deny: []rbac.Permission{"crm.citizen.sin.view"}},
			{ID: "payroll", Permissions: []rbac.Permission{"crm.citizen.sin.view"}},
			{ID: "ap-clerk", Permissions: []rbac.Permission{"finance.ap.invoice.create"}},
			{ID: "gl-clerk", Permissions: []rbac.Permission{"finance.gl.journal.post"}},
			{ID: "finance-manager", Composite: true, Inherits: []rbac.RoleID{"ap-clerk", "gl-clerk"}},
		},
		Members: []rbac.Membership{{Member: "user:bob", Group: "group:permit-desk"}},
		Grants: []rbac.Grant{
			{Subject: "user:alice", Role: "permit-clerk", Scope: "ward:7"},
			{Subject: "group:permit-desk", Role: "permit-clerk", Scope: "dept:building"},
			{Subject: "user:carol", Role: "cbo", Scope: "org", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour)},
			{Subject: "user:dave", Role: "cbo", Scope: "dept:building", NotBefore: now.Add(-30 * 24 * time.Hour), NotAfter: now.Add(-time.Hour)},
			{Subject: "user:erin", Role: "privacy-officer", Scope: "org"},
			{Subject: "user:pat", Role: "payroll", Scope: "org"},
			{Subject: "user:frank", Role: "finance-manager", Scope: "dept:finance"},
		},
	}
}

func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "civic-iam-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The embedded store: SQLite through gorm, pure Go. Migrations are an
	// explicit step, as they are for the PostgreSQL store.
	store, err := sqlitestore.Open(filepath.Join(dir, "policy.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := sqlitestore.Migrate(ctx, store.DB()); err != nil {
		return err
	}
	now := time.Now()
	rev, err := store.Replace(ctx, city(now))
	if err != nil {
		return fmt.Errorf("load the city: %w", err)
	}
	fmt.Fprintf(w, "policy loaded into %s at revision %d\n\n", filepath.Base(dir)+"/policy.db", rev)

	authz, err := iam.New(ctx, store)
	if err != nil {
		return err
	}
	defer authz.Close()
	// Policy changes go through an Admin built from the store's writer.
	admin := iam.NewAdmin(authz, store)

	checks := []struct {
		what  string
		sub   iam.Subject
		perm  iam.Permission
		scope iam.Scope
	}{
		{"direct grant at a ward", "user:alice", "permits.application.create", "ward:7"},
		{"inherited from a parent role", "user:alice", "permits.application.read", "ward:7"},
		{"same grant, another ward", "user:alice", "permits.application.create", "ward:3"},
		{"through a group; dept covers its facility", "user:bob", "permits.application.read", "facility:city-hall"},
		{"acting CBO, wildcard rule, org-wide", "user:carol", "permits.application.approve", "ward:3"},
		{"acting appointment that has ended", "user:dave", "permits.application.approve", "dept:building"},
		{"field-level permission", "user:pat", "crm.citizen.sin.view", "ward:7"},
		{"field-level wildcard", "user:erin", "crm.citizen.email.view", "ward:7"},
		{"deny beats allow", "user:erin", "crm.citizen.sin.view", "ward:7"},
		{"composite role spanning modules", "user:frank", "finance.gl.journal.post", "dept:finance"},
		{"no grant at all", "user:frank", "permits.application.read", "dept:finance"},
		{"a wildcard in a request is malformed", "user:carol", "permits.*", "org"},
		{"an unknown scope kind is malformed", "user:carol", "permits.application.read", "region:north"},
	}
	for i, c := range checks {
		ex, err := authz.Explain(ctx, c.sub, c.perm, c.scope)
		fmt.Fprintf(w, "%2d. %s\n    %s %s at %s\n", i+1, c.what, c.sub, c.perm, c.scope)
		switch {
		case errors.Is(err, iam.ErrInvalidInput):
			fmt.Fprintf(w, "    → refused: %v\n", err)
		case err != nil:
			return err
		default:
			fmt.Fprintf(w, "    → %s (revision %d)\n", ex, ex.Revision)
		}
		// Check gives the same answer as Explain, without the path.
		d, err := authz.Check(ctx, c.sub, c.perm, c.scope)
		if err == nil && d.Allowed != ex.Allowed {
			return fmt.Errorf("check and explain disagree on %v", c)
		}
	}

	// A change is one transaction in the store; Apply reloads, so the next
	// check sees it.
	rev, err = admin.Apply(ctx, rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:alice", Role: "permit-clerk", Scope: "ward:7"}}})
	if err != nil {
		return err
	}
	err = authz.Require(ctx, "user:alice", "permits.application.create", "ward:7")
	fmt.Fprintf(w, "\nafter revoking alice's grant (revision %d): %v\n", rev, err)
	if !errors.Is(err, iam.ErrDenied) {
		return fmt.Errorf("revoked grant still allows: %v", err)
	}

	// Hostile names are refused before anything is written.
	_, err = admin.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:mallory", Role: "cbo", Scope: "ward:7'; DROP TABLE casbin_rule; --"}}})
	fmt.Fprintf(w, "a hostile scope name: %v\n", err)
	if !errors.Is(err, iam.ErrInvalidInput) {
		return fmt.Errorf("hostile input was not refused: %v", err)
	}
	fmt.Fprintf(w, "revision still %d\n", authz.Revision())
	return nil
}
