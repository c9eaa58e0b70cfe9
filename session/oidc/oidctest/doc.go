// Package oidctest runs a real OpenID Connect provider in-process, for
// tests and examples of session/oidc: zitadel/oidc's op package (the same
// code that serves production ZITADEL installations) over an httptest
// server on the loopback interface, with users whose ID tokens carry
// Entra ID's claims (tid, oid, groups or a group overage, amr, acr).
//
// It is a test double: the users' passwords are plain text, the login page
// is a bare form, and hooks let a test rewrite ID tokens on their way to
// the relying party to derive hostile tokens from real ones.
package oidctest
