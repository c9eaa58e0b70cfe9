// Package pgstore keeps the policy in PostgreSQL, in gorm-adapter's
// casbin_rule table, so that every process of every service shares it.
//
//	store, err := pgstore.New(db) // the service's own *gorm.DB
//
// A [Store] implements iam.PolicySource ([Store.LoadPolicy]) and
// iam.PolicyWriter ([Store.Apply]), and adds [Store.Replace] for bulk
// import. It borrows the caller's handle: it opens no connections of its
// own and [New] runs no statement at all. The tables come from [Migrate],
// run from the service's migration step; until then every call fails with
// an error wrapping [ErrNotMigrated].
//
// # Tables
//
// casbin_rule is gorm-adapter's own table (id, ptype, v0..v5 varchar(100),
// unique index idx_casbin_rule), holding the model as the Casbin lines of
// the iam model, so a plain Casbin enforcer with gorm-adapter can load it.
// iam_policy_revision (id integer primary key, always 1; revision bigint)
// counts the changes written through a Store; a fresh database is at
// revision 0. iam_policy_extras (one row) holds the segregation-of-duties
// rules and waivers, which carry free text, as a versioned JSON document.
// iam_outbox holds the domain events of each change, written in the same
// transaction by [Store.ApplyWithEvents] (which iam uses when a store has
// it) until adapters/pgoutbox relays them.
//
// Role labels and grant reasons, which carry free text, are kept in the
// extras document beside conflict rules and waivers; the order of a role's
// rules and parents is not kept (they come back sorted). A name whose stored form is longer than 100 bytes does not fit
// the columns and is refused as invalid input.
//
// # Consistency
//
// Each Apply or Replace is one transaction. It first bumps the revision
// row, which locks it until commit, so concurrent writers in any number of
// goroutines and processes queue there and none loses another's update.
// It then reads the current lines, applies and validates the change
// completely, and only then writes the difference. Any error rolls back
// everything. LoadPolicy reads the revision and the lines in one
// REPEATABLE READ transaction, so the model it returns is the one that
// revision names.
//
// A Store is safe for concurrent use.
package pgstore
