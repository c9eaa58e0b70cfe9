// Package ssotest holds conformance tests for implementations of
// session/sso's store interfaces, so every store (memory, PostgreSQL,
// SQLite) is held to the same behaviour.
package ssotest
