package signin

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrInvalidCredentials is returned for a wrong password, an unknown
	// email, or an inactive account: one error and one message for all, so
	// that an answer does not reveal whether an account exists.
	ErrInvalidCredentials = errors.New("signin: invalid email or password")
	// ErrLocked is wrapped by a [LockedError]: too many failed attempts
	// from this client or on this account; try again later.
	ErrLocked = errors.New("signin: too many attempts")
	// ErrInvalidCode is returned for a wrong, reused or malformed TOTP or
	// recovery code.
	ErrInvalidCode = errors.New("signin: invalid code")
	// ErrMFARequired is returned when an operation needs a second factor
	// the caller did not give.
	ErrMFARequired = errors.New("signin: second factor required")
	// ErrInvalidInput is wrapped by errors for malformed arguments: a
	// password that is empty, not UTF-8, holds NUL or exceeds 4 KiB; an
	// email or client key that is missing, too long, not UTF-8 or holds a
	// control character (NUL among them); a user id no user can have (see
	// User.ID); a malformed user record.
	ErrInvalidInput = errors.New("signin: invalid input")
	// ErrNotFound is returned by stores for a missing record.
	ErrNotFound = errors.New("signin: not found")
	// ErrExists is returned by stores when a user's id, email or
	// employee id is taken.
	ErrExists = errors.New("signin: already exists")
	// ErrNotEnrolled is returned for MFA operations on a user without a
	// (confirmed, where needed) TOTP enrolment.
	ErrNotEnrolled = errors.New("signin: not enrolled in MFA")
	// ErrAlreadyEnrolled is returned by BeginTOTP when the user has a
	// confirmed enrolment; reset it first.
	ErrAlreadyEnrolled = errors.New("signin: already enrolled in MFA")
)

// Users keeps user records.
type Users interface {
	// CreateUser stores a new user (already normalised); ErrExists if its
	// id, email or employee id is taken.
	CreateUser(ctx context.Context, u User) error
	// UpdateUser replaces the record with u.ID; ErrNotFound if none,
	// ErrExists if the new email or employee id is taken.
	UpdateUser(ctx context.Context, u User) error
	// User returns the user with id; ErrNotFound if none.
	User(ctx context.Context, id string) (User, error)
	// UserByEmail returns the user with the (lower-case) email.
	UserByEmail(ctx context.Context, email string) (User, error)
}

// TOTPRecord is a user's TOTP enrolment as stored.
type TOTPRecord struct {
	// Sealed is the secret sealed by package secrets, bound to
	// (TOTPTable, "secret", user id).
	Sealed string
	// Confirmed is set once the user has entered a first code.
	Confirmed bool
	// LastStep is the last time step accepted (0 before any).
	LastStep int64
}

// Credentials keeps password hashes, TOTP enrolments and recovery codes.
type Credentials interface {
	// SetPasswordHash stores a user's password hash, replacing any.
	SetPasswordHash(ctx context.Context, userID, hash string) error
	// PasswordHash returns it; ErrNotFound if the user has none.
	PasswordHash(ctx context.Context, userID string) (string, error)
	// ReplacePasswordHash stores next only if the stored hash is still
	// prev (a rehash must not undo a concurrent password change). It
	// reports whether it did.
	ReplacePasswordHash(ctx context.Context, userID, prev, next string) (bool, error)

	// PutTOTP stores a new, unconfirmed enrolment (last step 0),
	// replacing an unconfirmed one. It returns ErrAlreadyEnrolled, and
	// changes nothing, if a confirmed one exists.
	PutTOTP(ctx context.Context, userID, sealed string) error
	// TOTP returns the enrolment; ErrNotFound if none.
	TOTP(ctx context.Context, userID string) (TOTPRecord, error)
	// ConfirmTOTP marks the enrolment whose secret is sealed confirmed
	// with last step = step, atomically, only if it is still unconfirmed,
	// still holds that secret and its last step is below step. It
	// reports whether it did.
	ConfirmTOTP(ctx context.Context, userID, sealed string, step int64) (bool, error)
	// AdvanceTOTP sets the last step of a confirmed enrolment to step,
	// atomically, only if the stored last step is below step (compare-
	// and-set). It reports whether it did: false means the code was used.
	AdvanceTOTP(ctx context.Context, userID string, step int64) (bool, error)
	// DeleteTOTP removes the enrolment and the recovery codes.
	DeleteTOTP(ctx context.Context, userID string) error

	// ReplaceRecoveryCodes replaces all of a user's recovery-code hashes.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string) error
	// UseRecoveryCode marks the unused code with hash as used at at,
	// atomically; it reports whether it did (false: unknown or used).
	UseRecoveryCode(ctx context.Context, userID, hash string, at time.Time) (bool, error)
	// RecoveryCodesLeft counts the unused codes.
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
}

// Counter is the state of one lockout key (an account or a client). The
// sign-in service computes the next state; the store only compares and
// swaps it.
type Counter struct {
	// Failures counted in the current window, including attempts in
	// flight (each reserves its slot before verifying).
	Failures int
	// WindowStart is when the current window began.
	WindowStart time.Time
	// LockedUntil is when the current lock ends (zero: not locked).
	LockedUntil time.Time
	// Level counts consecutive locks; each doubles the next lock's length.
	Level int
}

// Counters keeps lockout counters with compare-and-set on a version.
type Counters interface {
	// LoadCounter returns the counter for key and its version; a missing
	// counter is the zero Counter at version 0.
	LoadCounter(ctx context.Context, key string) (Counter, int64, error)
	// SaveCounter stores c for key if the stored version is still
	// version (0: absent), making it version+1. It reports whether it did.
	SaveCounter(ctx context.Context, key string, c Counter, version int64) (bool, error)
	// DeleteCounter removes the counter for key (administrator unlock).
	DeleteCounter(ctx context.Context, key string) error
	// PruneCounters deletes the counters whose window started before
	// before and whose lock, if any, ended before before, and returns how
	// many it deleted.
	PruneCounters(ctx context.Context, before time.Time) (int, error)
}

// Store is everything the sign-in service keeps. [NewMemStore] is one;
// adapters/pgstore and adapters/sqlitestore provide SQL ones.
type Store interface {
	Users
	Credentials
	Counters
}

// TOTPTable and TOTPColumn are the binding under which TOTP secrets are
// sealed (row: the user id). SQL stores name their table so.
const (
	TOTPTable  = "iam_totp"
	TOTPColumn = "secret"
)
