package signin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/audit"
	"github.com/civic-platform/security/session/password"
	"github.com/civic-platform/security/session/secrets"
	"github.com/civic-platform/security/session/totp"
)

// Authentication methods recorded on a session.
const (
	MethodPassword     = "password"
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery-code"
)

// Event is a domain event (the same type as iam.Event).
type Event = iam.Event

// EventSink receives the service's events: login.succeeded, login.failed
// (detail "reason": bad_password, unknown_user, no_password, inactive,
// bad_code, locked), account.locked, account.unlocked, mfa.enrolled,
// mfa.verified, mfa.failed, mfa.reset. An iam.AuditSink is one. Record is
// called on the request path and should queue slow work; its error is
// ignored, so a failing sink never blocks a sign-in. No event carries a
// password, a code or a secret.
type EventSink interface {
	Record(ctx context.Context, e Event) error
}

// StartRequest is what the service asks of a session manager after a
// successful sign-in.
type StartRequest struct {
	// Subject is "user:<id>".
	Subject string
	// Methods are the authentication methods used, in order.
	Methods []string
	// MFA is true when a second factor was verified.
	MFA bool
	// Client is the attempt's client key (for fingerprinting).
	Client string
}

// Started is the session a manager started.
type Started struct {
	ID      string
	Token   string
	Expires time.Time
}

// Sessions starts a session for a signed-in user. The session package's
// Manager is adapted to it; each call must start a new session with a new
// id (no fixation).
type Sessions interface {
	Start(ctx context.Context, req StartRequest) (Started, error)
}

// SessionsFunc adapts a function to Sessions.
type SessionsFunc func(ctx context.Context, req StartRequest) (Started, error)

// Start calls f.
func (f SessionsFunc) Start(ctx context.Context, req StartRequest) (Started, error) {
	return f(ctx, req)
}

// PasswordHasher is what the service needs of a *password.Hasher.
type PasswordHasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	Verify(ctx context.Context, pw, encoded string) (password.Result, error)
	VerifyDummy(ctx context.Context, pw string) error
}

// Service signs staff in with a password and an optional TOTP second
// factor, keeps the lockout counters, and manages enrolment. It is safe
// for concurrent use.
type Service struct {
	store    Store
	sealer   *secrets.Sealer
	hasher   PasswordHasher
	policy   password.Policy
	lock     Lockout
	totp     totp.Config
	sessions Sessions
	sink     EventSink
	now      func() time.Time
	tokenKey []byte
	deviceTTL,
	challengeTTL time.Duration
}

// Option configures a Service.
type Option func(*Service)

// WithHasher sets the password hasher (default: password.NewHasher()
// with OWASP parameters).
func WithHasher(h PasswordHasher) Option { return func(s *Service) { s.hasher = h } }

// WithPolicy sets the policy new passwords must meet.
func WithPolicy(p password.Policy) Option { return func(s *Service) { s.policy = p } }

// WithLockout sets the lockout policy.
func WithLockout(l Lockout) Option { return func(s *Service) { s.lock = l } }

// WithTOTP sets the shape of TOTP codes and the issuer shown in
// authenticator apps (default issuer "Civic Platform").
func WithTOTP(c totp.Config) Option { return func(s *Service) { s.totp = c } }

// WithSessions sets the session manager that successful sign-ins start
// sessions with. Without it, Result.Session is empty.
func WithSessions(m Sessions) Option { return func(s *Service) { s.sessions = m } }

// WithEvents sets the event sink (default: none).
func WithEvents(e EventSink) Option { return func(s *Service) { s.sink = e } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithTokenKey sets the key (at least 32 bytes) that MACs device tokens
// and MFA challenges. Give every process of a service the same key, from
// a secret store. Default: a random key per Service, so tokens do not
// survive a restart or cross processes.
func WithTokenKey(k []byte) Option {
	return func(s *Service) { s.tokenKey = append([]byte(nil), k...) }
}

// WithDeviceTTL sets how long a device token lasts (default 90 days).
func WithDeviceTTL(d time.Duration) Option { return func(s *Service) { s.deviceTTL = d } }

// New returns a Service over store, sealing TOTP secrets with sealer.
func New(store Store, sealer *secrets.Sealer, opts ...Option) (*Service, error) {
	if store == nil || sealer == nil {
		return nil, errors.New("signin: New: nil store or sealer")
	}
	s := &Service{store: store, sealer: sealer, now: time.Now, deviceTTL: 90 * 24 * time.Hour, challengeTTL: 5 * time.Minute}
	for _, o := range opts {
		o(s)
	}
	if s.hasher == nil {
		h, err := password.NewHasher()
		if err != nil {
			return nil, err
		}
		s.hasher = h
	}
	if s.totp.Issuer == "" {
		s.totp.Issuer = "Civic Platform"
	}
	if s.tokenKey == nil {
		s.tokenKey = make([]byte, 32)
		if _, err := rand.Read(s.tokenKey); err != nil {
			return nil, fmt.Errorf("signin: New: %w", err)
		}
	} else if len(s.tokenKey) < 32 {
		return nil, errors.New("signin: New: token key shorter than 32 bytes")
	}
	s.lock = s.lock.withDefaults()
	return s, nil
}

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

func (s *Service) emit(ctx context.Context, typ, subject string, detail map[string]string) {
	if s.sink == nil {
		return
	}
	_ = s.sink.Record(context.WithoutCancel(ctx), Event{
		Version: iam.EventSchemaVersion, ID: audit.NewID(), Type: typ, Time: s.now(),
		Subject: subjectOf(subject), Detail: detail,
	})
}

// CreateUser normalises u and stores it.
func (s *Service) CreateUser(ctx context.Context, u User) (User, error) {
	u, err := u.Normalize()
	if err != nil {
		return User{}, err
	}
	u.Created = s.now()
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("signin: create user: %w", err)
	}
	return u, nil
}

// SetPassword checks pw against the policy (which also refuses passwords
// containing the user's email local part or employee id) and stores its
// hash. Errors wrap password.ErrInvalid or password.ErrWeak.
func (s *Service) SetPassword(ctx context.Context, userID, pw string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	u, err := s.store.User(ctx, userID)
	if err != nil {
		return fmt.Errorf("signin: set password: %w", err)
	}
	local, _, _ := strings.Cut(u.Email, "@")
	if err := s.policy.Check(pw, local, u.EmployeeID); err != nil {
		return fmt.Errorf("signin: set password: %w", err)
	}
	h, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return fmt.Errorf("signin: set password: %w", err)
	}
	if err := s.store.SetPasswordHash(ctx, u.ID, h); err != nil {
		return fmt.Errorf("signin: set password: %w", err)
	}
	return nil
}

// Attempt is one sign-in attempt.
type Attempt struct {
	Email    string
	Password string
	// Code is a TOTP code or a recovery code; needed only if the user has
	// enrolled in MFA. Without it such a user gets Result.MFARequired.
	Code string
	// Client identifies where the attempt comes from (the client IP as
	// the HTTP layer trusts it). Required: it keys the per-client limit.
	Client string
	// DeviceToken is a Result.DeviceToken from an earlier sign-in on this
	// device, if any.
	DeviceToken string
}

// Result is a successful step of sign-in.
type Result struct {
	User User
	// Methods used, in order ("password", "totp" or "recovery-code").
	Methods []string
	// MFA is true when a second factor was verified.
	MFA bool
	// MFARequired is true when the password was right and the user must
	// now give a code: call CompleteMFA with Challenge. No session yet.
	MFARequired bool
	Challenge   string
	// Session is the session started (empty without WithSessions or when
	// MFARequired).
	Session Started
	// DeviceToken lets this device sign in while the account is locked by
	// attempts from elsewhere; keep it in a long-lived cookie.
	DeviceToken string
}

// Longest inputs accepted; longer is ErrInvalidInput before any work.
const (
	maxClient = 256
	maxCode   = 64
)

// SignIn verifies a. It returns ErrInvalidCredentials for a wrong
// password, an unknown email or an inactive account alike, after the same
// work (an unknown email is verified against a dummy hash); a
// [LockedError] when a limit refuses the attempt; ErrInvalidCode for a
// wrong or reused second factor; an error wrapping ErrInvalidInput for
// malformed input, which changes no counter.
func (s *Service) SignIn(ctx context.Context, a Attempt) (Result, error) {
	now := s.now()
	email := normalizeEmail(a.Email)
	if err := checkInput(a.Client, a.Code); err != nil {
		return Result{}, err
	}
	if _, err := password.Normalize(a.Password); err != nil {
		return Result{}, fmt.Errorf("%w: password: %w", ErrInvalidInput, err)
	}
	if email == "" || len(email) > maxField || !plainText(strings.TrimSpace(a.Email)) {
		return Result{}, fmt.Errorf("%w: email", ErrInvalidInput)
	}
	ck := clientKey + a.Client
	if err := s.lock.reserve(ctx, s.store, ck, "client", s.lock.ClientLimit, now); err != nil {
		if errors.Is(err, ErrLocked) {
			s.emit(ctx, "login.failed", "", map[string]string{"reason": "locked", "scope": "client", "client": a.Client})
		}
		return Result{}, err
	}
	u, err := s.store.UserByEmail(ctx, email)
	known := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Result{}, s.abort(ctx, err, ck)
	}
	ak := accountKey + email
	if known {
		if uid, id, ok := s.parseToken(purposeDevice, a.DeviceToken, now); ok && uid == u.ID {
			ak = deviceKey + id
		}
	}
	if err := s.lock.reserve(ctx, s.store, ak, "account", s.lock.AccountLimit, now); err != nil {
		if !errors.Is(err, ErrLocked) { // no verdict: give the client's slot back
			return Result{}, s.abort(ctx, err, ck)
		}
		s.emit(ctx, "login.failed", u.ID, map[string]string{"reason": "locked", "scope": "account", "client": a.Client})
		if cerr := s.clientFailed(ctx, ck, now); cerr != nil {
			return Result{}, cerr
		}
		return Result{}, err // the client's slot stays used
	}
	// An unknown email reads a hash too (of an id no user can have: ids
	// never start with '.'), so both paths make the same store calls.
	hashOf := ".unknown"
	if known {
		hashOf = u.ID
	}
	hash, err := s.store.PasswordHash(ctx, hashOf)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Result{}, s.abort(ctx, err, ck, ak)
	}
	if !known {
		hash = ""
	}
	var res password.Result
	var verr error
	if hash == "" {
		verr = s.hasher.VerifyDummy(ctx, a.Password)
	} else {
		res, verr = s.hasher.Verify(ctx, a.Password, hash)
	}
	reason := ""
	switch {
	case verr == nil && u.Status != StatusActive:
		reason = "inactive"
	case errors.Is(verr, password.ErrMismatch) && !known:
		reason = "unknown_user"
	case errors.Is(verr, password.ErrMismatch) && hash == "":
		reason = "no_password"
	case errors.Is(verr, password.ErrMismatch):
		reason = "bad_password"
	case verr != nil: // a corrupt stored hash, a cancelled wait: not the caller's failure
		return Result{}, s.abort(ctx, verr, ck, ak)
	}
	if reason != "" {
		if err := s.failed(ctx, ak, ck, u.ID, reason, a.Client, now); err != nil {
			return Result{}, err
		}
		return Result{}, ErrInvalidCredentials
	}
	if res.Rehash {
		if nh, err := s.hasher.Hash(ctx, a.Password); err == nil {
			_, _ = s.store.ReplacePasswordHash(ctx, u.ID, hash, nh)
		}
	}
	rec, err := s.store.TOTP(ctx, u.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Result{}, s.abort(ctx, err, ck, ak)
	}
	methods := []string{MethodPassword}
	if err == nil && rec.Confirmed {
		if a.Code == "" {
			if err := s.releaseAll(ctx, ck, ak); err != nil {
				return Result{}, err
			}
			return Result{User: u, Methods: methods, MFARequired: true,
				Challenge: s.mintToken(purposeChallenge, u.ID, now.Add(s.challengeTTL))}, nil
		}
		m, err := s.secondFactor(ctx, u, rec, a.Code, now)
		if err != nil {
			return Result{}, s.factorFailed(ctx, err, ak, ck, u.ID, a.Client, now)
		}
		methods = append(methods, m)
	}
	return s.succeed(ctx, u, methods, ck, ak, a.Client, now)
}

func checkInput(client, code string) error {
	if client == "" || len(client) > maxClient || !plainText(client) {
		return fmt.Errorf("%w: client key required (at most %d bytes of UTF-8 text)", ErrInvalidInput, maxClient)
	}
	if len(code) > maxCode {
		return fmt.Errorf("%w: code too long", ErrInvalidInput)
	}
	return nil
}

// checkUserID refuses, with ErrInvalidInput, a user id no user can have
// (see User.ID), before it reaches a store.
func checkUserID(id string) error {
	if why := validID(id); why != "" {
		return fmt.Errorf("%w: user id: %s", ErrInvalidInput, why)
	}
	return nil
}

// plainText reports whether s is valid UTF-8 without control characters
// (NUL among them): what every store can keep as text and a key can be
// made of. Emails and client keys become counter keys and store
// parameters, so anything else is refused before it reaches a store.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// abort releases the slots an attempt holds when it ends without a
// verdict (a store error, a cancelled context) and returns err.
func (s *Service) abort(ctx context.Context, err error, keys ...string) error {
	_ = s.releaseAll(context.WithoutCancel(ctx), keys...)
	return fmt.Errorf("signin: %w", err)
}

func (s *Service) releaseAll(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := release(ctx, s.store, k); err != nil {
			return fmt.Errorf("signin: %w", err)
		}
	}
	return nil
}

// failed records a failed verification on the account (or device) key
// and on the client's key (whose slot stays used); a counter it fills
// locks, for longer with each consecutive lock.
func (s *Service) failed(ctx context.Context, ak, ck, userID, reason, client string, now time.Time) error {
	limit := s.lock.AccountLimit
	locked, until, err := s.lock.fail(context.WithoutCancel(ctx), s.store, ak, limit, now)
	s.emit(ctx, "login.failed", userID, map[string]string{"reason": reason, "client": client})
	if err != nil {
		return fmt.Errorf("signin: %w", err)
	}
	if err := s.clientFailed(ctx, ck, now); err != nil {
		return err
	}
	if locked {
		scope := "account"
		if strings.HasPrefix(ak, deviceKey) {
			scope = "device"
		}
		s.emit(ctx, "account.locked", userID, map[string]string{"scope": scope, "until": until.UTC().Format(time.RFC3339), "client": client})
	}
	return nil
}

// clientFailed locks the client's counter if it is full.
func (s *Service) clientFailed(ctx context.Context, ck string, now time.Time) error {
	if _, _, err := s.lock.fail(context.WithoutCancel(ctx), s.store, ck, s.lock.ClientLimit, now); err != nil {
		return fmt.Errorf("signin: %w", err)
	}
	return nil
}

func (s *Service) factorFailed(ctx context.Context, err error, ak, ck, userID, client string, now time.Time) error {
	if !errors.Is(err, ErrInvalidCode) {
		return s.abort(ctx, err, ck, ak)
	}
	s.emit(ctx, "mfa.failed", userID, map[string]string{"reason": reasonOf(err), "client": client})
	if ferr := s.failed(ctx, ak, ck, userID, "bad_code", client, now); ferr != nil {
		return ferr
	}
	return ErrInvalidCode
}

type codeError struct{ reason string }

func (e *codeError) Error() string        { return ErrInvalidCode.Error() + ": " + e.reason }
func (e *codeError) Is(target error) bool { return target == ErrInvalidCode }

func reasonOf(err error) string {
	var ce *codeError
	if errors.As(err, &ce) {
		return ce.reason
	}
	return "invalid"
}

// secondFactor checks a TOTP code (advancing the last step by
// compare-and-set) or a recovery code (marking it used by compare-and-
// set). A wrong, reused or malformed code is a *codeError.
func (s *Service) secondFactor(ctx context.Context, u User, rec TOTPRecord, code string, now time.Time) (string, error) {
	if isTOTPShaped(code) {
		secret, err := s.sealer.Open(ctx, rec.Sealed, secrets.Binding{Table: TOTPTable, Column: TOTPColumn, Row: u.ID})
		if err != nil {
			return "", fmt.Errorf("open TOTP secret: %w", err) // fail closed: no code accepted
		}
		defer clear(secret)
		step, err := s.totp.Match(string(secret), code, now)
		switch {
		case errors.Is(err, totp.ErrWrongCode), errors.Is(err, totp.ErrMalformedCode):
			return "", &codeError{"wrong"}
		case err != nil:
			return "", err
		}
		ok, err := s.store.AdvanceTOTP(ctx, u.ID, step)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", &codeError{"reused"}
		}
		s.emit(ctx, "mfa.verified", u.ID, map[string]string{"method": MethodTOTP})
		return MethodTOTP, nil
	}
	h, err := totp.HashRecoveryCode(u.ID, code)
	if err != nil {
		return "", &codeError{"malformed"}
	}
	ok, err := s.store.UseRecoveryCode(ctx, u.ID, h, now)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &codeError{"wrong"}
	}
	s.emit(ctx, "mfa.verified", u.ID, map[string]string{"method": MethodRecoveryCode})
	return MethodRecoveryCode, nil
}

// isTOTPShaped: all digits, up to 8 (recovery codes hold letters).
func isTOTPShaped(code string) bool {
	if code == "" || len(code) > 8 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

func (s *Service) succeed(ctx context.Context, u User, methods []string, ck, ak, client string, now time.Time) (Result, error) {
	if err := clearCounter(ctx, s.store, ak); err != nil {
		return Result{}, s.abort(ctx, err, ck)
	}
	if err := release(ctx, s.store, ck); err != nil {
		return Result{}, fmt.Errorf("signin: %w", err)
	}
	mfa := len(methods) > 1
	r := Result{User: u, Methods: methods, MFA: mfa, DeviceToken: s.mintToken(purposeDevice, u.ID, now.Add(s.deviceTTL))}
	if s.sessions != nil {
		st, err := s.sessions.Start(ctx, StartRequest{Subject: u.Subject(), Methods: methods, MFA: mfa, Client: client})
		if err != nil {
			return Result{}, fmt.Errorf("signin: start session: %w", err)
		}
		r.Session = st
	}
	s.emit(ctx, "login.succeeded", u.ID, map[string]string{"methods": strings.Join(methods, ","), "client": client})
	return r, nil
}

// MFAAttempt is the second step of a sign-in (CompleteMFA) or a step-up
// on an existing session (StepUp).
type MFAAttempt struct {
	// Challenge from Result.Challenge (CompleteMFA only).
	Challenge string
	// Code is a TOTP code or a recovery code.
	Code        string
	Client      string
	DeviceToken string
}

// CompleteMFA finishes a sign-in that returned MFARequired: it checks the
// challenge (valid for 5 minutes) and the code, and on success starts a
// session with methods password and totp (or recovery-code). A wrong or
// reused code counts as a failed attempt on the account; the challenge
// stays usable until it expires or the account locks.
func (s *Service) CompleteMFA(ctx context.Context, a MFAAttempt) (Result, error) {
	now := s.now()
	uid, _, ok := s.parseToken(purposeChallenge, a.Challenge, now)
	if !ok {
		return Result{}, fmt.Errorf("%w: challenge invalid or expired", ErrMFARequired)
	}
	return s.verifyFactor(ctx, uid, []string{MethodPassword}, a, now)
}

// StepUp verifies a second factor for a user who already holds a session
// whose methods are prior, and on success starts a new session (new id)
// through the configured Sessions whose methods add the second factor.
// End the old session afterwards. With a session.Manager, prefer
// VerifyCode followed by Manager.CompleteMFA on the current token, which
// does both.
func (s *Service) StepUp(ctx context.Context, userID string, prior []string, a MFAAttempt) (Result, error) {
	return s.verifyFactor(ctx, userID, prior, a, s.now())
}

// VerifyCode checks a second factor (TOTP or recovery code) for userID
// with the same lockout, single-use and events as sign-in, and returns the
// method it verified ("totp" or "recovery-code") without starting a
// session: a step-up on an existing session calls it and then
// session.Manager.CompleteMFA.
func (s *Service) VerifyCode(ctx context.Context, userID string, a MFAAttempt) (string, error) {
	now := s.now()
	u, rec, ck, ak, err := s.prepareFactor(ctx, userID, a, now)
	if err != nil {
		return "", err
	}
	m, err := s.secondFactor(ctx, u, rec, a.Code, now)
	if err != nil {
		return "", s.factorFailed(ctx, err, ak, ck, u.ID, a.Client, now)
	}
	if err := clearCounter(ctx, s.store, ak); err != nil {
		return "", s.abort(ctx, err, ck)
	}
	if err := release(ctx, s.store, ck); err != nil {
		return "", fmt.Errorf("signin: %w", err)
	}
	return m, nil
}

func (s *Service) verifyFactor(ctx context.Context, uid string, prior []string, a MFAAttempt, now time.Time) (Result, error) {
	u, rec, ck, ak, err := s.prepareFactor(ctx, uid, a, now)
	if err != nil {
		return Result{}, err
	}
	m, err := s.secondFactor(ctx, u, rec, a.Code, now)
	if err != nil {
		return Result{}, s.factorFailed(ctx, err, ak, ck, u.ID, a.Client, now)
	}
	methods := append(append([]string(nil), prior...), m)
	return s.succeed(ctx, u, methods, ck, ak, a.Client, now)
}

// prepareFactor validates a second-factor attempt, loads the user and the
// enrolment, and reserves the client's and the account's slots.
func (s *Service) prepareFactor(ctx context.Context, uid string, a MFAAttempt, now time.Time) (User, TOTPRecord, string, string, error) {
	fail := func(err error) (User, TOTPRecord, string, string, error) { return User{}, TOTPRecord{}, "", "", err }
	if err := checkUserID(uid); err != nil {
		return fail(err)
	}
	if err := checkInput(a.Client, a.Code); err != nil {
		return fail(err)
	}
	if a.Code == "" {
		return fail(fmt.Errorf("%w: code missing", ErrMFARequired))
	}
	u, err := s.store.User(ctx, uid)
	if err != nil {
		return fail(fmt.Errorf("signin: %w", err))
	}
	if u.Status != StatusActive {
		return fail(ErrInvalidCredentials)
	}
	rec, err := s.store.TOTP(ctx, u.ID)
	if errors.Is(err, ErrNotFound) || err == nil && !rec.Confirmed {
		return fail(ErrNotEnrolled)
	}
	if err != nil {
		return fail(fmt.Errorf("signin: %w", err))
	}
	ck := clientKey + a.Client
	if err := s.lock.reserve(ctx, s.store, ck, "client", s.lock.ClientLimit, now); err != nil {
		return fail(err)
	}
	ak := accountKey + u.Email
	if duid, id, ok := s.parseToken(purposeDevice, a.DeviceToken, now); ok && duid == u.ID {
		ak = deviceKey + id
	}
	if err := s.lock.reserve(ctx, s.store, ak, "account", s.lock.AccountLimit, now); err != nil {
		if !errors.Is(err, ErrLocked) { // no verdict: give the client's slot back
			return fail(s.abort(ctx, err, ck))
		}
		s.emit(ctx, "mfa.failed", u.ID, map[string]string{"reason": "locked", "client": a.Client})
		if cerr := s.clientFailed(ctx, ck, now); cerr != nil {
			return fail(cerr)
		}
		return fail(err) // the client's slot stays used
	}
	return u, rec, ck, ak, nil
}

// BeginTOTP starts a TOTP enrolment for userID: a fresh secret, sealed
// and stored unconfirmed (replacing an unconfirmed one). Show the
// returned URI or PNG to the user once. ErrAlreadyEnrolled if the user
// has a confirmed enrolment.
func (s *Service) BeginTOTP(ctx context.Context, userID string) (totp.Enrolment, error) {
	if err := checkUserID(userID); err != nil {
		return totp.Enrolment{}, err
	}
	u, err := s.store.User(ctx, userID)
	if err != nil {
		return totp.Enrolment{}, fmt.Errorf("signin: begin TOTP: %w", err)
	}
	e, err := s.totp.Enrol(u.Email)
	if err != nil {
		return totp.Enrolment{}, fmt.Errorf("signin: begin TOTP: %w", err)
	}
	sealed, err := s.sealer.Seal(ctx, []byte(e.Secret), secrets.Binding{Table: TOTPTable, Column: TOTPColumn, Row: u.ID})
	if err != nil {
		return totp.Enrolment{}, fmt.Errorf("signin: begin TOTP: %w", err)
	}
	if err := s.store.PutTOTP(ctx, u.ID, sealed); err != nil {
		return totp.Enrolment{}, fmt.Errorf("signin: begin TOTP: %w", err)
	}
	return e, nil
}

// ConfirmTOTP confirms an enrolment with a first code and returns ten
// fresh recovery codes (shown once; stored hashed). The code's step
// becomes the last accepted step, so the same code cannot then sign in.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string) ([]string, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	rec, err := s.store.TOTP(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("signin: confirm TOTP: %w", err)
	}
	if rec.Confirmed {
		return nil, ErrAlreadyEnrolled
	}
	secret, err := s.sealer.Open(ctx, rec.Sealed, secrets.Binding{Table: TOTPTable, Column: TOTPColumn, Row: userID})
	if err != nil {
		return nil, fmt.Errorf("signin: confirm TOTP: %w", err)
	}
	defer clear(secret)
	step, err := s.totp.Match(string(secret), code, s.now())
	if err != nil {
		s.emit(ctx, "mfa.failed", userID, map[string]string{"reason": "wrong", "stage": "enrolment"})
		if errors.Is(err, totp.ErrWrongCode) || errors.Is(err, totp.ErrMalformedCode) {
			return nil, ErrInvalidCode
		}
		return nil, fmt.Errorf("signin: confirm TOTP: %w", err)
	}
	ok, err := s.store.ConfirmTOTP(ctx, userID, rec.Sealed, step)
	if err != nil {
		return nil, fmt.Errorf("signin: confirm TOTP: %w", err)
	}
	if !ok {
		return nil, ErrInvalidCode
	}
	codes, err := s.newRecoveryCodes(ctx, userID)
	if err != nil {
		return nil, err
	}
	s.emit(ctx, "mfa.enrolled", userID, map[string]string{"method": MethodTOTP})
	return codes, nil
}

func (s *Service) newRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes, err := totp.NewRecoveryCodes()
	if err != nil {
		return nil, err
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		if hashes[i], err = totp.HashRecoveryCode(userID, c); err != nil {
			return nil, err
		}
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, hashes); err != nil {
		return nil, fmt.Errorf("signin: recovery codes: %w", err)
	}
	return codes, nil
}

// RegenerateRecoveryCodes replaces a confirmed user's recovery codes with
// ten fresh ones; the old ones stop working.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	rec, err := s.store.TOTP(ctx, userID)
	if errors.Is(err, ErrNotFound) || err == nil && !rec.Confirmed {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("signin: %w", err)
	}
	return s.newRecoveryCodes(ctx, userID)
}

// HasMFA reports whether the user has a confirmed TOTP enrolment.
func (s *Service) HasMFA(ctx context.Context, userID string) (bool, error) {
	if err := checkUserID(userID); err != nil {
		return false, err
	}
	rec, err := s.store.TOTP(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil && rec.Confirmed, err
}

// ResetMFA removes a user's TOTP enrolment and recovery codes (an
// administrator's action, e.g. for a lost phone).
func (s *Service) ResetMFA(ctx context.Context, userID string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	if err := s.store.DeleteTOTP(ctx, userID); err != nil {
		return fmt.Errorf("signin: reset MFA: %w", err)
	}
	s.emit(ctx, "mfa.reset", userID, nil)
	return nil
}

// Unlock ends an account's lock and forgets its failures (an
// administrator's action). Device counters run out by themselves.
func (s *Service) Unlock(ctx context.Context, email string) error {
	if !plainText(strings.TrimSpace(email)) {
		return fmt.Errorf("%w: email", ErrInvalidInput)
	}
	email = normalizeEmail(email)
	if err := s.store.DeleteCounter(ctx, accountKey+email); err != nil {
		return fmt.Errorf("signin: unlock: %w", err)
	}
	id := ""
	if u, err := s.store.UserByEmail(ctx, email); err == nil {
		id = u.ID
	}
	s.emit(ctx, "account.unlocked", id, nil)
	return nil
}

// PruneCounters deletes lockout counters that have been quiet for a whole
// window (their failures would be forgotten at the next attempt anyway),
// so that attempts against many unknown emails do not grow the store
// without bound. Run it periodically, e.g. from a daily job; it changes no
// outcome.
func (s *Service) PruneCounters(ctx context.Context) (int, error) {
	n, err := s.store.PruneCounters(ctx, s.now().Add(-s.lock.Window))
	if err != nil {
		return n, fmt.Errorf("signin: prune counters: %w", err)
	}
	return n, nil
}
