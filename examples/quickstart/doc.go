// Command quickstart builds a small city on the embedded SQLite store in a
// temporary directory and runs a dozen checks — field-level, scoped,
// inherited, through a group, temporary, expired, denied and malformed —
// printing each decision with the path that decided it.
//
//	go run ./examples/quickstart
package main
