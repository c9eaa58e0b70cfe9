// Package sqlitestore keeps the policy in a SQLite file: the embedded
// default, for a service (or an example) that runs without PostgreSQL. It
// uses github.com/glebarez/sqlite, a pure-Go driver, so it builds without
// cgo.
//
//	store, err := sqlitestore.Open("policy.db")
//	if err != nil { ... }
//	defer store.Close()
//	if err := sqlitestore.Migrate(ctx, store.DB()); err != nil { ... }
//
// A [Store] implements iam.PolicySource ([Store.LoadPolicy]) and
// iam.PolicyWriter ([Store.Apply]), and adds [Store.Replace] for bulk
// import. Neither [Open] nor [New] runs DDL; [Migrate] creates the tables
// and is idempotent. Until it has run, every call fails with an error
// wrapping [ErrNotMigrated].
//
// The tables and the line format are those of package pgstore:
// gorm-adapter's casbin_rule table and a one-row iam_policy_revision table.
// A fresh database is at revision 0. Role labels and grant reasons are kept
// in the extras document; the order of a role's rules and parents is not
// kept. A name whose stored
// form is longer than 100 bytes is refused as invalid input, as it is on
// PostgreSQL, although SQLite could hold it. Segregation-of-duties rules
// and waivers are kept in iam_policy_extras, and [Store.ApplyWithEvents]
// writes a change's domain events to iam_outbox in the same transaction,
// as on PostgreSQL; adapters/pgoutbox's Relay delivers them from SQLite
// too.
//
// # Consistency
//
// Each Apply or Replace is one transaction whose first statement bumps the
// revision, so it holds SQLite's write lock before it reads anything:
// writers in several goroutines, or several processes on one file,
// serialise there, waiting up to busy_timeout (10 s with Open). The change
// is applied and validated completely before anything is written, and any
// error rolls everything back. LoadPolicy reads the revision and the lines
// in one read transaction, and so from one snapshot; with WAL (as Open
// sets) readers never wait for the writer.
//
// # Fallback copy
//
// A Store also keeps, in its iam_snapshot table, a copy of another store's
// policy for iam.WithFallback ([Store.SaveSnapshot], [Store.ConfirmSnapshot],
// [Store.LoadSnapshot]): a service whose policy lives in PostgreSQL points
// WithFallback at a local file, so that it can start while PostgreSQL is
// unreachable. The copy is one row (the store's revision, when it was last
// confirmed current, and the policy as gzip-compressed JSON of its Casbin
// lines), written in one statement.
//
// A Store is safe for concurrent use.
package sqlitestore
