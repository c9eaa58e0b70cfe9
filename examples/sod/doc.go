// Command sod walks through segregation of duties for a Finance Director on
// the embedded SQLite store in a temporary directory: two roles from the
// shipped templates, a conflict rule between them, an assignment the rule
// blocks (directly and through a group), and a compliance report with zero
// violations, exported as CSV and JSON.
//
//	go run ./examples/sod
package main
