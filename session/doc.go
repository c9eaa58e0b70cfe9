// Package session will hold authentication sessions: JWT session tokens
// (golang-jwt/v5 with a pinned algorithm list, issuer, audience and required
// expiry), the Session value, signing-key rotation by key id, and the Store
// interface for the server-side session record that makes logout and
// revocation take effect at once. Redis and in-memory stores will live in
// adapters.
//
// Nothing is implemented here yet: the package holds no API, and no other
// package depends on it.
package session
