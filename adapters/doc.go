// Package adapters holds no code: its subpackages connect the core packages
// (iam, rbac, abac, session) to storage and infrastructure.
//
//   - memstore: policy in memory, for tests and examples.
//   - sqlitestore: policy in a SQLite file through gorm and a pure-Go
//     driver; the embedded default when no database is configured.
//   - pgstore: policy in PostgreSQL through gorm, shared by every process.
//   - gormscope: an abac.Filter applied to gorm queries as a scope.
//   - pgnotify: a PostgreSQL LISTEN/NOTIFY watcher (a trigger on the
//     revision row) that tells every process when the policy changed; it is
//     an iam.Notifier and a Casbin persist.Watcher.
//   - pgoutbox: the relay that delivers domain events written to the SQL
//     stores' outbox table in the same transaction as the change.
//
// The policy stores keep the policy as Casbin policy lines in gorm-adapter's
// casbin_rule table (the same lines in memory for memstore), with a
// revision counter beside it, segregation-of-duties rules and waivers in a
// JSON document (iam_policy_extras), and an event outbox (iam_outbox).
// They declare casbin_rule's row themselves rather than import
// gorm-adapter, which would link every database driver: a service on
// pgstore (with pgnotify and pgoutbox) links no MySQL, SQL Server or
// SQLite driver, and one on sqlitestore no PostgreSQL, MySQL or SQL Server
// driver (deps_test.go at the module root asserts both). Compatibility
// with gorm-adapter is proven by the stores' tests, which import it.
//
// Adapters implement the small interfaces the core declares (for example
// iam.PolicySource and iam.PolicyWriter) structurally, and import only the
// core's types. The dependency points one way: nothing in the core imports
// adapters, so a service that uses memstore links no database driver, and
// iam stays testable without a database. An adapter's tests may import iam
// to assert that it satisfies iam's interfaces.
package adapters
