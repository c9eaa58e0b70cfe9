package oidc

import "errors"

// The refusals of the relying party. Each wraps exactly one of these, so a
// caller branches with errors.Is; what happens after the ID token is
// checked (linking, provisioning, mappings) fails with session/sso's
// errors instead.
var (
	// ErrState: the state parameter is missing, unknown, expired, already
	// used, or was issued to another browser (its cookie is missing or
	// different).
	ErrState = errors.New("oidc: invalid state")
	// ErrProviderError: the provider answered the authorization request
	// with an error (the user cancelled, consent was refused).
	ErrProviderError = errors.New("oidc: provider returned an error")
	// ErrCode: the authorization code is missing or malformed, or the
	// provider refused to exchange it (used already, expired, PKCE
	// verifier mismatch).
	ErrCode = errors.New("oidc: authorization code refused")
	// ErrMalformed: the ID token is missing, oversized or not a compact
	// JWS with a JSON payload.
	ErrMalformed = errors.New("oidc: malformed ID token")
	// ErrSignature: the ID token is unsigned ("alg": "none"), uses an
	// algorithm outside the allow-list (HMAC among them), has a header
	// that carries or points to a key, is critical, or types it as
	// something other than a JWT (at+jwt, a nested cty), or its signature
	// does not verify with the provider's key. Keys published twice under
	// one kid, symmetric keys and RSA keys under 2048 bits are never used.
	ErrSignature = errors.New("oidc: bad ID token signature")
	// ErrUnknownKey: the ID token names a key id the provider's key set
	// does not have, and the key set was refreshed too recently to fetch
	// it again.
	ErrUnknownKey = errors.New("oidc: unknown signing key")
	// ErrIssuer: iss is not the configured issuer (for Entra, the v2.0
	// issuer of the token's tenant), or the redirect's iss parameter
	// (RFC 9207) names another issuer.
	ErrIssuer = errors.New("oidc: wrong issuer")
	// ErrTenant: the token's tenant (tid) is not an allowed tenant, or
	// (Entra) not the tenant its issuer names.
	ErrTenant = errors.New("oidc: tenant not allowed")
	// ErrAudience: aud does not contain the client id, or has other
	// audiences without azp naming the client.
	ErrAudience = errors.New("oidc: wrong audience")
	// ErrExpired: exp has passed, or iat or nbf is in the future (beyond
	// the leeway).
	ErrExpired = errors.New("oidc: ID token expired or not yet valid")
	// ErrNonce: the nonce claim is missing or is not the one sent.
	ErrNonce = errors.New("oidc: wrong nonce")
	// ErrAuthTime: max_age is configured and auth_time is missing or
	// older than max_age.
	ErrAuthTime = errors.New("oidc: authentication too old")
	// ErrClaims: a claim the stable key needs (sub; for Entra oid and tid)
	// is missing or malformed.
	ErrClaims = errors.New("oidc: missing or malformed claims")
	// ErrUnavailable: discovery, the key set or the token endpoint could
	// not be reached, or the state store failed.
	ErrUnavailable = errors.New("oidc: provider unavailable")
	// ErrInvalidConfig is wrapped by New for an unusable configuration.
	ErrInvalidConfig = errors.New("oidc: invalid configuration")
)
