package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/masking"
	"github.com/civic-platform/security/rbac"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "privacy:", err)
		os.Exit(1)
	}
}

const sinView iam.Permission = "crm.citizen.sin.view"

// taxOfficer is the Tax Assessment Officer role, before and after the
// review.
func taxOfficer(withSIN bool) rbac.Role {
	r := rbac.Role{
		ID:          "tax-assessment-officer",
		Labels:      map[string]string{"en": "Tax Assessment Officer", "fr": "Agent d'évaluation fiscale"},
		Inherits:    []rbac.RoleID{"crm-reader"},
		Permissions: []rbac.Permission{"tax.assessment.update"},
	}
	if withSIN {
		r.Permissions = append(r.Permissions, sinView)
	}
	return r
}

// city has four roles that may see SINs, two that may not, and one person
// or group holding each.
func city() rbac.Model {
	return rbac.Model{
		Permissions: []rbac.Permission{sinView, "crm.citizen.email.view"},
		Scopes:      []rbac.ScopeNode{{Scope: "dept:finance"}, {Scope: "dept:social"}, {Scope: "dept:hr"}},
		Roles: []rbac.Role{
			{ID: "crm-reader", Permissions: []rbac.Permission{"crm.citizen.read"}},
			{ID: "crm-clerk", Inherits: []rbac.RoleID{"crm-reader"}, Permissions: []rbac.Permission{"crm.citizen.email.view"}},
			{ID: "privacy-officer", Inherits: []rbac.RoleID{"crm-reader"}, Permissions: []rbac.Permission{"iam.access.review"}},
			{ID: "hr-admin", Permissions: []rbac.Permission{"crm.citizen.*", "hr.employee.update"}},
			{ID: "payroll-processor", Inherits: []rbac.RoleID{"crm-clerk"}, Permissions: []rbac.Permission{sinView, "finance.payroll.run"}},
			taxOfficer(true),
			{ID: "social-services-worker", Inherits: []rbac.RoleID{"crm-reader"}, Permissions: []rbac.Permission{sinView, "social.case.update"}},
		},
		Members: []rbac.Membership{{Member: "user:sara", Group: "group:social-intake"}},
		Grants: []rbac.Grant{
			{Subject: "user:hana", Role: "hr-admin", Scope: "org"},
			{Subject: "user:paul", Role: "payroll-processor", Scope: "org"},
			{Subject: "user:tom", Role: "tax-assessment-officer", Scope: "org"},
			{Subject: "group:social-intake", Role: "social-services-worker", Scope: "org"},
			{Subject: "user:carl", Role: "crm-clerk", Scope: "org"},
			{Subject: "user:olive", Role: "privacy-officer", Scope: "org"},
		},
	}
}

// Citizen is a CRM record. Its tags say which permission unmasks a field.
type Citizen struct {
	ID    string      `iam:"key" json:"id"`
	Name  string      `json:"name"`
	SIN   masking.SIN `iam:"crm.citizen.sin.view" mask:"sin" json:"sin"`
	Email string      `iam:"crm.citizen.email.view" mask:"email" json:"email"`
}

func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "civic-iam-privacy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	store, err := sqlitestore.Open(filepath.Join(dir, "policy.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := sqlitestore.Migrate(ctx, store.DB()); err != nil {
		return err
	}
	if _, err := store.Replace(ctx, city()); err != nil {
		return fmt.Errorf("load the city: %w", err)
	}

	// Decision events (pii.viewed) go to the audit sink; here it prints them.
	audit := iam.AuditFunc(func(_ context.Context, e iam.Event) error {
		var detail []string
		for _, k := range slices.Sorted(maps.Keys(e.Detail)) {
			detail = append(detail, k+"="+e.Detail[k])
		}
		who := ""
		if e.Subject != "" {
			who = " " + string(e.Subject)
		}
		fmt.Fprintf(w, "    audit: %s%s (revision %d) %s\n", e.Type, who, e.Revision, strings.Join(detail, " "))
		return nil
	})
	authz, err := iam.New(ctx, store, iam.WithAuditSink(audit))
	if err != nil {
		return err
	}
	defer authz.Close()
	// Changes write their events to the store's outbox in the same
	// transaction; a relay (adapters/pgoutbox) delivers them.
	admin := iam.NewOutboxAdmin(authz, store)

	// 1. Who can see SINs?
	if err := whoCan(ctx, w, authz); err != nil {
		return err
	}

	// 2. The Privacy Officer first sees who would lose access, then removes
	// the permission from the role: one transaction in the store, which also
	// writes the role.changed event to the store's outbox (a relay such as
	// adapters/pgoutbox delivers it), so it never reaches the sink directly.
	dry, err := reports.DryRunRemove(authz.View(), "tax-assessment-officer", sinView)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nremoving %s from tax-assessment-officer would remove access from %d subject(s):\n", sinView, len(dry.Losses))
	for _, l := range dry.Losses {
		fmt.Fprintf(w, "    %s at %s\n", l.Subject, l.Scope)
	}
	rev, err := admin.Apply(ctx, rbac.Change{PutRoles: []rbac.Role{taxOfficer(false)}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "policy now at revision %d\n\n", rev)
	if err := whoCan(ctx, w, authz); err != nil {
		return err
	}

	// 3. The same citizen record, as two people see it.
	masker, err := authz.Masker(iam.MaskOptions{})
	if err != nil {
		return err
	}
	if err := masker.Prepare(Citizen{}); err != nil { // a bad tag fails here, at start-up
		return err
	}
	sin, err := masking.ParseSIN("046 454 286")
	if err != nil {
		return err
	}
	stored := Citizen{ID: "c-1001", Name: "Jane Roe", SIN: sin, Email: "jane.roe@example.ca"}
	fmt.Fprintln(w)
	for _, sub := range []iam.Subject{"user:tom", "user:paul"} {
		fmt.Fprintf(w, "%s opens citizen %s:\n", sub, stored.ID)
		view, err := iam.Masked(ctx, masker, sub, iam.OrgScope, stored)
		if err != nil {
			return err
		}
		// A SIN prints, logs and encodes as the mask; Plain is the one
		// disclosure, and it is empty once the field has been masked.
		shown := view.SIN.Plain()
		if shown == "" {
			shown = masking.SINMask
		}
		fmt.Fprintf(w, "    name %s, SIN %s, email %s\n", view.Name, shown, view.Email)
	}
	return nil
}

// whoCan prints the roles that hold the SIN permission and the people who
// may use it, each with the path that gives it.
func whoCan(ctx context.Context, w io.Writer, authz *iam.Authorizer) error {
	acc, err := authz.WhoCan(ctx, sinView, iam.OrgScope)
	if err != nil {
		return err
	}
	var roles []iam.RoleHolding
	for _, r := range acc.Roles {
		if !r.Denied {
			roles = append(roles, r)
		}
	}
	fmt.Fprintf(w, "roles holding %s (%d):\n", sinView, len(roles))
	for _, r := range roles {
		fmt.Fprintf(w, "    %-24s %s\n", r.Role, r.Path)
	}
	var people []iam.Holder
	for _, h := range acc.Subjects {
		if h.Subject.IsPrincipal() {
			people = append(people, h)
		}
	}
	fmt.Fprintf(w, "people who may use it (%d):\n", len(people))
	for _, h := range people {
		fmt.Fprintf(w, "    %-12s %s\n", h.Subject, h.Path)
	}
	return nil
}
