// Command iam administers and audits the policy, users and API keys of a
// civic-platform deployment without writing Go: checks and explanations,
// who-can, assignments, emergency access, role templates, policy import
// and export as Casbin lines, onboarding and offboarding from HR records,
// API keys, and the auditor's reports as CSV, JSON or a table.
//
// It works against the embedded store (a SQLite file) or PostgreSQL:
//
//	iam --db ./city.db init
//	iam --db postgres://iam@db.city.local/iam check user:jtremblay bylaw.case.read dept:bylaw
//	IAM_DB=./city.db iam report sod --format json
//
// The store is named by --db or the IAM_DB environment variable: a
// postgres:// or postgresql:// URL, or a file path (optionally prefixed
// with sqlite:). Changes are written through an outbox admin, so their
// events land in the store's outbox table in the same transaction; the
// actor recorded on them is --actor or IAM_ACTOR.
//
// Exit codes, for scripts: 0 ok or allowed; 1 denied, or violations
// found (report sod with open violations, check/explain denied, hr-import
// with row errors); 2 a usage error or any other error (an unreachable or
// wrong database, a store that was never initialised, a malformed
// permission, subject or scope), with the reason on standard error.
//
// The command tree is built with spf13/cobra rather than the standard flag
// package: it has nested commands (emergency activate|end|review, keys
// list|rotate|report), and cobra generates shell completion for bash,
// zsh, fish and PowerShell (iam completion bash) from the same tree, which
// flag cannot.
package main
