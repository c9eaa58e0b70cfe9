// Package memstore keeps the policy in memory: for tests, examples and
// services that load their policy from a file at start-up.
//
//	store, err := memstore.New(model)
//	authz, err := iam.New(ctx, store)
//
// A [Store] implements iam.PolicySource ([Store.LoadPolicy]) and
// iam.PolicyWriter ([Store.Apply]), and adds [Store.Replace]. It behaves
// like the SQL stores in what it accepts and refuses — every change is
// validated with rbac.Compile before it is committed, an empty change is
// refused as invalid input, and a refused change leaves the store as it
// was; a change or a Replace that creates or enlarges a violation of a
// segregation-of-duties rule that no waiver in force permits is refused
// (rbac.ErrConflict) — with these differences: revisions start at 1 (the
// model New was given) rather than 0, and role labels and grant reasons
// are kept. The model given to New is the store's starting state, like
// rows already in a database: violations it holds are kept and reported
// (iam's ComplianceReport), and no later write may renew or enlarge them.
//
// A Store is safe for concurrent use. It copies models on the way in and
// out, so a caller can never change the stored model except through Apply
// and Replace.
package memstore
