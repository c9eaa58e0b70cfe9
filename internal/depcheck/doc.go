// Package depcheck holds tiny programs that stand for services using one
// store each. The module root's deps_test.go lists what each one links
// (go list -deps) and fails if a database driver the service does not use
// is among them; BENCHMARKS.md reports their cold build times.
//
//   - pgonly: PostgreSQL only (pgstore, pgnotify, pgoutbox); links no
//     MySQL, SQL Server or SQLite driver.
//   - sqliteonly: the embedded store (sqlitestore); links no PostgreSQL,
//     MySQL or SQL Server driver.
//   - baregorm: gorm and its PostgreSQL driver and nothing of ours, the
//     baseline for build times.
//
// The programs use only the public API, as a service would.
package depcheck
