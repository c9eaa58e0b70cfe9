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
// was — with these differences: revisions start at 1 (the model New was
// given) rather than 0; role labels and grant reasons are kept; and
// segregation-of-duties rules and waivers are kept, where the SQL stores
// cannot store them yet and refuse them.
//
// A Store is safe for concurrent use. It copies models on the way in and
// out, so a caller can never change the stored model except through Apply
// and Replace.
package memstore
