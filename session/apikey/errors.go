package apikey

import "errors"

// Errors returned by this package. Every refusal of a presented key wraps
// ErrInvalidKey, so a handler can answer 401 with one errors.Is; the
// narrower sentinels say why, for logs and tests.
var (
	// ErrInvalidKey is wrapped by every refusal of a presented key.
	ErrInvalidKey = errors.New("apikey: invalid key")
	// ErrMalformed: the key is not of the form prefix, id, secret and
	// checksum (wrong prefix, wrong length, a character outside the
	// alphabet). Nothing was looked up.
	ErrMalformed = errors.New("apikey: malformed key")
	// ErrChecksum: the key has the right form but its checksum does not
	// match: a typo or a truncation. Nothing was looked up.
	ErrChecksum = errors.New("apikey: key checksum mismatch")
	// ErrUnknownKey: no key with this id, or a wrong secret for it. The two
	// are deliberately indistinguishable.
	ErrUnknownKey = errors.New("apikey: unknown key or wrong secret")
	// ErrRevoked: the key was revoked.
	ErrRevoked = errors.New("apikey: key revoked")
	// ErrRetired: the key was rotated and its overlap deadline has passed.
	ErrRetired = errors.New("apikey: key retired after rotation")
	// ErrExpired: the key is past its expiry.
	ErrExpired = errors.New("apikey: key expired")
	// ErrAccountDisabled: the key's service account is disabled or deleted.
	ErrAccountDisabled = errors.New("apikey: service account disabled")
	// ErrNarrowed: the key is narrowed and the request lies outside its
	// narrowing (a permission or scope the key does not carry).
	ErrNarrowed = errors.New("apikey: request outside the key's narrowing")
	// ErrDenied: the policy does not allow the account the request now.
	ErrDenied = errors.New("apikey: denied by policy")
	// ErrUnavailable: the store or the invalidation feed cannot be relied
	// on; the key is refused (fail closed).
	ErrUnavailable = errors.New("apikey: store unavailable")

	// ErrInvalidInput: an administrative call was given malformed input.
	ErrInvalidInput = errors.New("apikey: invalid input")
	// ErrNarrowingExceeds: a key's narrowing asks for a permission or scope
	// the account does not hold.
	ErrNarrowingExceeds = errors.New("apikey: narrowing exceeds the account's permissions")
	// ErrNotFound: no such service account or key (administrative calls).
	ErrNotFound = errors.New("apikey: not found")
	// ErrExists: a service account or key with this id already exists.
	ErrExists = errors.New("apikey: already exists")
	// ErrState: the operation does not fit the key's or account's state
	// (rotating a revoked key, creating a key for a disabled account).
	ErrState = errors.New("apikey: invalid state for this operation")
	// ErrClosed: the Manager was closed.
	ErrClosed = errors.New("apikey: manager closed")
)

// refusal is a refusal of a presented key: it wraps ErrInvalidKey and the
// specific reason, and never carries any part of the key.
type refusal struct{ reason error }

func (r *refusal) Error() string { return r.reason.Error() }
func (r *refusal) Unwrap() []error {
	return []error{ErrInvalidKey, r.reason}
}

// Prebuilt refusals: returning them allocates nothing.
var (
	errMalformed = &refusal{ErrMalformed}
	errChecksum  = &refusal{ErrChecksum}
	errUnknown   = &refusal{ErrUnknownKey}
	errRevoked   = &refusal{ErrRevoked}
	errRetired   = &refusal{ErrRetired}
	errExpired   = &refusal{ErrExpired}
	errDisabled  = &refusal{ErrAccountDisabled}
	errStale     = &refusal{ErrUnavailable}
)
