// Package templates ships pre-built roles for municipal positions — Clerk,
// Treasurer, Chief Building Official, Fire Chief, Planner, By-law Officer,
// IT Admin, CAO, Finance Director, Purchasing Agent, Accounts Payable Clerk
// and the Emergency Operations break-glass composite — as data files
// embedded in the module, with English and French labels and the
// permission catalog they draw on.
//
// A template is not a role until it is instantiated: [Set.Instantiate]
// copies it under a role id the city chooses, applies edits (add or remove
// permissions, deny, relabel), and checks the result against the catalog.
// The role is then written like any other, with the catalog so that the
// template's wildcards cover every catalog permission, and granted at a
// scope:
//
//	set, err := templates.Default()
//	if err != nil { ... }
//	role, err := set.Instantiate("treasurer", "treasurer", templates.Add("finance.po.read"))
//	if err != nil { ... }
//	_, err = admin.Apply(ctx, rbac.Change{PutRoles: []rbac.Role{role}, AddPermissions: set.Permissions()})
//	if err != nil { ... }
//	_, err = admin.Assign(ctx, rbac.Grant{Subject: "user:tam", Role: "treasurer", Scope: "dept:finance"})
//
// (admin is an iam.Admin; at deploy, iam's Sync writes a service's roles
// only when they differ from what is stored.)
//
// Every template is validated when a [Set] is loaded: a permission that is
// malformed or not in the catalog (a wildcard must cover at least one
// catalog permission) is refused with an [*UnknownPermissionError], so a
// typo in a template fails at start-up rather than granting nothing. A Set
// is immutable and safe for concurrent use.
//
// # A service's own permissions
//
// A service registers the permissions it defines with [Set.Extend], which
// returns a new Set whose catalog holds them too, so that its roles may
// name them:
//
//	set, report, err := set.Extend(
//		templates.Perm("permits.applicant.read"),
//		templates.Perm("permits.applicant.sin.view"), // field-level
//		templates.PII("permits.applicant.export"),    // flagged PII
//	)
//
// Registrations follow the permission grammar (lower-case ASCII segments
// of a-z, 0-9 and _, three or four of them, no wildcard); a malformed one,
// one already in the catalog or one listed twice refuses the whole call
// with an error wrapping rbac.ErrInvalidInput.
//
// A shipped wildcard covers what a service registers under it: the Chief
// Building Official's "permits.*" grants a new permits.applicant.sin.view.
// For personal information that must not happen silently, so the
// [ExtendReport] lists, for every newly registered PII permission, each
// template that now grants it and the wildcards that do. A permission is
// PII when it is registered with [PII] or when it is field-level
// (module.entity.field.action; see [IsPII]): guarding a single field is
// what field-level permissions are for, and assuming such a field is
// personal is the safe default. Deny the permission in the role
// ([Deny]), or narrow the wildcard ([Remove] and [Add]), where the
// position should not see it.
package templates
