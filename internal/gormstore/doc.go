// Package gormstore is the policy store that adapters/pgstore and
// adapters/sqlitestore share: an rbac.Model kept as Casbin policy lines in
// gorm-adapter's casbin_rule table, plus a one-row revision counter, read
// and written through gorm.
//
// # Tables
//
// casbin_rule is exactly the table gorm-adapter creates (id, ptype, v0..v5,
// each value at most 100 characters, and the unique index idx_casbin_rule
// over ptype and v0..v5), so a plain Casbin enforcer with gorm-adapter can
// load what this store writes. The row is declared here ([Rule], a copy of
// gorm-adapter's CasbinRule) instead of imported, because gorm-adapter
// links the MySQL, SQL Server, SQLite and PostgreSQL drivers together and a
// store must link only its own: the package takes a *gorm.DB that the
// store package opened with its driver and imports no driver itself. The
// conformance suite (storetest, imported only by tests) proves the
// compatibility: it compares the table Migrate creates with the one
// gorm-adapter creates, loads the stored rows into a plain Casbin enforcer
// through gorm-adapter, and loads rows that such an enforcer wrote. The
// lines are those of internal/casbinx.
//
//	CREATE TABLE iam_policy_revision (
//		id       integer PRIMARY KEY CHECK (id = 1),
//		revision bigint NOT NULL
//	)
//
// holds one row whose revision counts the changes written through a Store.
// [Migrate] creates both tables and the row; it is idempotent. Nothing else
// here runs DDL.
//
// # Rows written by others
//
// A load reads every row of casbin_rule with its id and builds the model
// with casbinx.LoadRows: a row that does not load (written by a plain
// Casbin enforcer or by hand with a value the model refuses, an instant
// the line format cannot represent, a dangling reference, one twin of an
// assignment without the other) is quarantined, not fatal. It is listed in
// the loaded model's Quarantine (and rbac.Policy.Quarantine, and iam's
// Health) with its id, type, values and reason; it grants nothing, and the
// subjects it could make Casbin deny are denied everything while it stays.
// Writes decode the table the same way, so a bad row never stops an
// administrator from revoking or repairing: Apply leaves quarantined rows
// in place, a change with rbac.Change.DeleteRows deletes them (moving the
// revision like any change), and Replace deletes every row it does not
// write. Writes validate every value they write, so a Store never writes a
// row it would quarantine.
//
// # What the lines do not carry
//
// The order of a role's rules and parents is not kept (they come back
// sorted). Segregation-of-duties rules and waivers (rbac.Model.Conflicts
// and Waivers), role labels and grant reasons carry free text and have no
// Casbin lines: they are kept in
// iam_policy_extras, one row holding casbinx's versioned extras document,
// written in the same transaction as the lines.
//
// # Outbox
//
// ApplyWithEvents writes the change's domain events to iam_outbox
// ([OutboxRow]) in the same transaction as the change, so a change and its
// events commit together; [Deliver] hands undelivered rows to a sink at
// least once and marks them delivered.
//
// # Transactions
//
// A write (Apply or Replace) is one transaction whose first statement is
// UPDATE iam_policy_revision SET revision = revision + 1 ... RETURNING
// revision. On PostgreSQL that takes the row lock (the same lock SELECT ...
// FOR UPDATE takes), so writers from any number of goroutines and processes
// queue on it and each one reads the lines its predecessor committed. On
// SQLite a transaction whose first statement writes takes the database's
// write lock at once, waiting up to busy_timeout, which is what BEGIN
// IMMEDIATE would do. The writer then reads the current lines, computes and
// validates the new model completely, and only then deletes the lines that
// went away and inserts the new ones. Any error rolls the whole transaction
// back, revision included.
//
// A read (LoadPolicy) reads the revision and every line in one transaction:
// REPEATABLE READ on PostgreSQL, and on SQLite the single snapshot every
// read transaction has.
//
// Lines written to casbin_rule by anything else (a Casbin enforcer's
// AddPolicy, a hand-written SQL statement) do not move the revision, and so
// are not seen by readers that reload only on a new revision.
package gormstore
