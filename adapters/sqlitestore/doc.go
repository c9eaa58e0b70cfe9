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
// A [SnapshotStore] keeps, in a Store's iam_snapshot table, an
// authenticated copy of another store's policy for iam.WithFallback: a
// service whose policy lives in PostgreSQL points WithFallback at a local
// file, so that it can start while PostgreSQL is unreachable.
// [NewSnapshotStore] demands a key of at least 32 random bytes, which the
// service keeps with its other secrets:
//
//	file, err := sqlitestore.Open("/var/lib/permits/iam-fallback.db")
//	if err != nil { ... }
//	if err := sqlitestore.Migrate(ctx, file.DB()); err != nil { ... }
//	fb, err := sqlitestore.NewSnapshotStore(file, key) // ErrSnapshotKey if key is short
//	if err != nil { ... }
//	authz, err := iam.New(ctx, pg, iam.WithFallback(fb))
//
// The copy is one row: the store's revision, when it was last confirmed
// current, the policy as gzip-compressed JSON of its Casbin lines, and two
// HMAC-SHA256 tags, one over the revision and the document and one over
// the revision, the confirmation time and the first tag. Both also cover a
// random identifier that [Migrate] gives the file. [SnapshotStore.LoadSnapshot]
// checks both tags in constant time before it decodes anything, and refuses
// with [ErrSnapshotUnverified] a copy whose content, revision or
// confirmation time was changed, a truncated copy, one written with another
// key or moved from another file, and one without tags (written before
// copies were authenticated; Migrate adds the tag columns to such a file,
// and the next save replaces the copy). A refused copy is never returned,
// so an Authorizer whose store is down does not start from it.
//
// What the tags cannot tell is whether a copy made with the right key is
// the newest: a copy written earlier by the same file (a restored backup)
// verifies. Its confirmation time is authenticated too, so with
// iam.WithMaxStaleness such a copy fails closed as soon as it is older than
// the bound, and once the store is back the Authorizer compares the copy
// with it and the store's policy wins.
//
// A Store is safe for concurrent use.
package sqlitestore
