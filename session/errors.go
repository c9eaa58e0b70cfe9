package session

import "errors"

// Sentinel errors. Every refusal of a token wraps [ErrInvalidToken] and one
// of the more precise sentinels below it, so a handler can answer 401 on
// ErrInvalidToken and log the precise reason. Errors never contain the
// token, its claims or a key.
var (
	// ErrInvalidToken is wrapped by every error that refuses a token,
	// whatever the reason (those below, and [ErrNoSession], [ErrIdle]).
	ErrInvalidToken = errors.New("session: invalid token")

	// ErrMalformed: the token is too large, is not exactly three base64url
	// segments (whitespace or any other character included), its header
	// or claims are not JSON, or its header carries crit or a typ other
	// than JWT.
	ErrMalformed = errors.New("session: malformed token")
	// ErrBadSignature: the signature does not verify, or the algorithm is
	// not the one pinned for the key (alg "none", HS256, a mismatch). It is
	// reported before any claim is looked at, so a tampered token is never
	// reported as merely expired.
	ErrBadSignature = errors.New("session: bad token signature")
	// ErrUnknownKey: the kid is missing, unknown, or names a retired key.
	ErrUnknownKey = errors.New("session: unknown or retired signing key")
	// ErrExpired: exp has passed (beyond the leeway), or the session's
	// absolute lifetime has.
	ErrExpired = errors.New("session: token expired")
	// ErrNotYetValid: nbf or iat is in the future (beyond the leeway).
	ErrNotYetValid = errors.New("session: token not valid yet")
	// ErrClaims: a required claim is missing or wrong: iss, aud (which
	// must be exactly ours), exp, nbf, iat, sub or sid.
	ErrClaims = errors.New("session: bad token claims")

	// ErrNoSession: the token is genuine but its server-side record is
	// gone: logged out, revoked, expired from the store or never stored.
	ErrNoSession = errors.New("session: no such session")
	// ErrIdle: the session was not used within its idle timeout.
	ErrIdle = errors.New("session: session idle too long")

	// ErrUnavailable: the session store cannot be reached and the bound
	// within which cached sessions may still be served has passed (or the
	// session was never cached). Requests fail closed.
	ErrUnavailable = errors.New("session: session store unavailable")
	// ErrInvalidInput: a caller passed a bad argument (empty subject,
	// unknown method, a key of the wrong type...).
	ErrInvalidInput = errors.New("session: invalid input")
	// ErrNotFound: an operation named a session or key that does not exist.
	ErrNotFound = errors.New("session: not found")
	// ErrClosed is returned by a [Manager] after Close.
	ErrClosed = errors.New("session: manager closed")
)

// TokenError refuses a token. errors.Is reports true for [ErrInvalidToken]
// and for Kind; Unwrap returns the underlying cause (perhaps a golang-jwt
// error, which is not part of this package's API).
type TokenError struct {
	Kind error // one of the sentinels above
	err  error
}

func (e *TokenError) Error() string {
	if e.err == nil {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.err.Error()
}

// Is makes errors.Is true for ErrInvalidToken and for e.Kind.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken || target == e.Kind }

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.err }

func tokenErr(kind, cause error) error { return &TokenError{Kind: kind, err: cause} }
