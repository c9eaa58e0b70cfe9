// Package signintest is a conformance suite for signin.Store
// implementations: every store (memory, SQLite, PostgreSQL) runs the same
// tests, including the parallel ones that show lockout counting and TOTP
// single use are atomic in that store.
package signintest
