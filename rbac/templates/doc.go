// Package templates ships pre-built roles for municipal positions — Clerk,
// Treasurer, Chief Building Official, Fire Chief, Planner, By-law Officer,
// IT Admin, CAO, Finance Director, Purchasing Agent, Accounts Payable Clerk
// and the Emergency Operations break-glass composite — as data files
// embedded in the module, with English and French labels and the
// permission catalog they draw on.
//
// A template is not a role until it is instantiated: [Set.Instantiate]
// copies it under a role id the city chooses, applies edits (add or remove
// permissions, relabel), and checks the result against the catalog. The
// role is then written with an rbac.Change and granted at a scope like any
// other:
//
//	set, err := templates.Default()
//	role, err := set.Instantiate("treasurer", "treasurer", templates.Add("finance.po.read"))
//	_, err = authz.Apply(ctx, rbac.Change{PutRoles: []rbac.Role{role}, AddPermissions: set.Permissions()})
//	err = authz.Assign(ctx, rbac.Grant{Subject: "user:tam", Role: "treasurer", Scope: "dept:finance"})
//
// Every template is validated when a [Set] is loaded: a permission that is
// malformed or not in the catalog (a wildcard must cover at least one
// catalog permission) is refused with an [*UnknownPermissionError], so a
// typo in a template fails at start-up rather than granting nothing. A Set
// is immutable and safe for concurrent use.
package templates
