// Package session authenticates requests: it issues a signed token when
// someone signs in, verifies it on every request, and ends sessions so that
// a logout or a revocation takes effect at once, in every process.
//
// # Tokens
//
// A token is a compact JWT (golang-jwt/v5, which stays private to this
// package) carrying iss, aud, sub, sid (the session id), iat, nbf and exp,
// all required and checked, with a small configurable leeway and an
// injected clock. Each signing key is pinned to one algorithm, EdDSA or
// ES256, and named by the kid header; "none", HMAC algorithms and an
// algorithm other than the key's are refused as a bad signature. The
// signature is checked before any claim, so a tampered token is reported as
// [ErrBadSignature] even if it has also expired. aud must be exactly the
// Manager's audience: a token whose aud array also names another service is
// refused. Tokens longer than [MaxTokenSize] are refused before they are
// decoded or hashed, and a token must be exactly three base64url segments:
// whitespace, line breaks or a stray dot make it [ErrMalformed]. Only kid
// selects a key, and only from the Keyring: jku, jwk, x5u and x5c are never
// read; a crit header, or a typ other than JWT, is refused. A [Keyring] rotates keys by kid: the new key signs,
// old keys verify until their retirement time, and an unknown or retired
// kid is refused.
//
// # The record is the authority
//
// Every token is backed by a [Session] record in a [Store]. A token whose
// record is gone (logout, revocation, flush), idle past its timeout or
// older than its subject's revocation epoch is refused, whatever its
// signature and exp say.
//
// A [Manager] verifies a token's signature once per process and then
// answers from an in-process LRU cache keyed by a SHA-256 digest of the
// token, re-checking the record and the revocations at least once a
// minute. The store's change feed ([Store.Watch]) drops cached sessions
// that change or end in any process; it also confirms periodically that it
// is connected. While it is not confirmed (the store is unreachable),
// cached sessions are served for at most the staleness bound
// ([WithMaxStaleness]); after that Verify reads the store and fails closed
// with [ErrUnavailable]. [Manager.Health] says which state it is in.
//
// # Durable revocations
//
// Ending a session writes the revocation to an [EpochStore] before it
// deletes the record: the session id, until the session would have
// expired. [Manager.LogoutEverywhere] raises the subject's revocation epoch
// there, past every session of the subject created so far, and every
// session created before the epoch is refused; a session is never created
// before its subject's epoch, so a sign-in right after log out everywhere
// works, even within the same clock tick.
// So a record that reappears — Redis restarted from an old snapshot, a
// replica promoted before it saw the deletion — does not bring a revoked
// session back: a Manager reads the subject's revocations on each cache
// miss (kept for a minute, and dropped whenever one of the subject's
// sessions changes or the store is flushed or reconnected). Several
// processes must share the revocations through the policy store
// (adapters/pgstore, adapters/sqlitestore); the default [MemoryEpochs]
// protects one process.
//
// # Operations and events
//
// [Manager.Create] (a new id on every sign-in), [Manager.Verify] (the
// current session), [Manager.CompleteMFA] (a new id and token once the
// second factor is given; the pre-MFA session ends), [Manager.Refresh]
// (sliding idle timeout within the absolute lifetime), [Manager.Logout],
// [Manager.LogoutEverywhere], [Manager.List] and [Manager.Revoke]. They
// emit session.started and session.ended (with a reason) to an
// [EventSink]; iam.AuditSink implementations fit.
//
// # Stores
//
// [MemoryStore] is for tests, examples and single-process services;
// adapters/redisstore keeps records in Redis for many processes. Package
// session imports no store driver.
//
// All types are safe for concurrent use.
package session
