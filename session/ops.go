package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/audit"
	"github.com/civic-platform/security/rbac"
)

// Start describes a successful authentication, for [Manager.Create].
type Start struct {
	// Subject is who authenticated: "user:alice". Required, at most 256
	// bytes of valid UTF-8, no control characters (C0, DEL, C1).
	Subject string
	// Method is how they authenticated. Required.
	Method Method
	// MFA is MFAPending when a second factor is still required (the
	// session then has LevelPassword until [Manager.CompleteMFA]),
	// MFADone when Method itself gave two factors (an SSO provider that
	// asserted MFA), and MFANotRequired otherwise.
	MFA MFA
	// Client holds fingerprint hashes of the client, if the caller has them.
	Client Client
}

// maxSubject bounds Start.Subject.
const maxSubject = 256

func (st Start) check() error {
	if st.Subject == "" || len(st.Subject) > maxSubject {
		return fmt.Errorf("%w: subject must be 1-%d bytes", ErrInvalidInput, maxSubject)
	}
	if !utf8.ValidString(st.Subject) {
		return fmt.Errorf("%w: subject is not valid UTF-8", ErrInvalidInput)
	}
	for _, r := range st.Subject {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: subject holds a control character", ErrInvalidInput)
		}
	}
	if !st.Method.valid() {
		return fmt.Errorf("%w: unknown authentication method", ErrInvalidInput)
	}
	if st.MFA > MFADone {
		return fmt.Errorf("%w: unknown MFA state", ErrInvalidInput)
	}
	return nil
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("session: crypto/rand failed: " + err.Error()) // never on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// Create starts a session after a successful sign-in and returns it with
// its token. Every call makes a new session id, so a session id known
// before sign-in is never the id after it. Emits session.started.
func (m *Manager) Create(ctx context.Context, st Start) (Session, string, error) {
	if m.closed.Load() {
		return Session{}, "", ErrClosed
	}
	if err := st.check(); err != nil {
		return Session{}, "", err
	}
	now, err := m.startTime(ctx, st.Subject)
	if err != nil {
		return Session{}, "", err
	}
	s := Session{
		ID:          newID(),
		Subject:     st.Subject,
		Created:     now,
		Expires:     now.Add(m.o.lifetime),
		LastSeen:    now,
		IdleTimeout: m.o.idle,
		Methods:     Methods(0).With(st.Method),
		Level:       LevelPassword,
		MFA:         st.MFA,
		Client:      st.Client,
	}
	if st.MFA == MFADone {
		s.Level = LevelMFA
	}
	return m.start(ctx, s)
}

// startTime returns the creation time of a new session of subject: now,
// or the subject's revocation epoch if that is later. A session is revoked
// by log out everywhere only if it was created before the epoch, so a
// sign-in that follows log out everywhere is accepted even within the same
// clock tick, or on a process whose clock is behind the one that raised
// the epoch (by at most the leeway; further behind, Create fails rather
// than issue a session that would be refused).
func (m *Manager) startTime(ctx context.Context, subject string) (time.Time, error) {
	now := m.o.now()
	r, err := m.epochs.Revocations(ctx, subject, now)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: revocations: %w", ErrUnavailable, err)
	}
	if !r.Epoch.After(now) {
		return now, nil
	}
	if r.Epoch.Sub(now) > m.o.leeway {
		return time.Time{}, fmt.Errorf("%w: this clock is behind the subject's revocation epoch by more than the leeway", ErrUnavailable)
	}
	return r.Epoch, nil
}

// start signs s, stores it and emits session.started.
func (m *Manager) start(ctx context.Context, s Session) (Session, string, error) {
	tok, err := m.tok.sign(s)
	if err != nil {
		return Session{}, "", err
	}
	if err := m.store.Create(ctx, s); err != nil {
		if errors.Is(err, ErrInvalidInput) {
			return Session{}, "", fmt.Errorf("session: create: %w", err)
		}
		return Session{}, "", fmt.Errorf("%w: create: %w", ErrUnavailable, err)
	}
	m.emit(ctx, EventStarted, s, map[string]string{
		"session": s.ID, "methods": s.Methods.String(), "level": s.Level.String(), "mfa": s.MFA.String(),
	})
	return s, tok, nil
}

// CompleteMFA records a second factor given under token's session: it
// starts a new session (new id and token) with method added, LevelMFA and
// MFA done, keeping the original absolute expiry, and ends the old one
// (reason mfa-completed), so the pre-MFA token stops working. method must
// not be MethodPassword.
func (m *Manager) CompleteMFA(ctx context.Context, token string, method Method) (Session, string, error) {
	if !method.valid() || method == MethodPassword {
		return Session{}, "", fmt.Errorf("%w: %s is not a second factor", ErrInvalidInput, method)
	}
	old, err := m.Verify(ctx, token)
	if err != nil {
		return Session{}, "", err
	}
	now, err := m.startTime(ctx, old.Subject)
	if err != nil {
		return Session{}, "", err
	}
	s := old
	s.ID = newID()
	s.Created, s.LastSeen = now, now
	s.Methods = old.Methods.With(method)
	s.Level, s.MFA = LevelMFA, MFADone
	s, tok, err := m.start(ctx, s)
	if err != nil {
		return Session{}, "", err
	}
	if err := m.end(ctx, old, ReasonMFACompleted); err != nil {
		// The pre-MFA session is completed once: if it ended meanwhile (a
		// concurrent CompleteMFA, a logout) the new session must not
		// exist; and the old one must not outlive it.
		if derr := m.end(ctx, s, ReasonRevoked); derr != nil && !errors.Is(derr, ErrNotFound) {
			m.o.logger.Warn("session: could not end the session made by a failed CompleteMFA", "err", derr)
		}
		if errors.Is(err, ErrNotFound) {
			return Session{}, "", tokenErr(ErrNoSession, errors.New("the pre-MFA session ended meanwhile"))
		}
		return Session{}, "", fmt.Errorf("session: end the pre-MFA session: %w", err)
	}
	return s, tok, nil
}

// Refresh verifies token and records activity: the idle timeout restarts
// from now (it never extends past the absolute lifetime). It returns the
// session; the token stays the same.
//
// To keep the per-process caches warm when Refresh is called on every
// request, it writes to the store only when the recorded activity is older
// than a tenth of the idle timeout (at most a minute): a write changes the
// record, which drops it from every process's cache. An active session
// therefore ends between IdleTimeout minus that interval and IdleTimeout
// after its last activity.
func (m *Manager) Refresh(ctx context.Context, token string) (Session, error) {
	s, err := m.Verify(ctx, token)
	if err != nil {
		return Session{}, err
	}
	now := m.o.now()
	if s.IdleTimeout <= 0 || now.Sub(s.LastSeen) < touchInterval(s.IdleTimeout) {
		return s, nil
	}
	upd, err := m.store.Touch(ctx, s.ID, now)
	switch {
	case errors.Is(err, ErrNotFound):
		return Session{}, tokenErr(ErrNoSession, nil)
	case err != nil:
		return Session{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if v, ok := m.byID.Load(s.ID); ok {
		v.(*entry).lastSeen.Store(now.UnixNano())
	}
	return upd, nil
}

// touchInterval is how stale LastSeen may get before Refresh writes it.
func touchInterval(idle time.Duration) time.Duration { return min(idle/10, time.Minute) }

// Logout ends token's session (reason logout). The token, and any cached
// copy of it in any process, is refused from then on.
func (m *Manager) Logout(ctx context.Context, token string) error {
	s, err := m.Verify(ctx, token)
	if err != nil {
		return err
	}
	if err := m.end(ctx, s, ReasonLogout); errors.Is(err, ErrNotFound) {
		// Ended meanwhile, as if Verify had come a moment later.
		return tokenErr(ErrNoSession, err)
	} else if err != nil {
		return err
	}
	return nil
}

// Revoke ends the session with the given id (an administrator's action;
// reason revoked). An unknown id wraps ErrNotFound.
func (m *Manager) Revoke(ctx context.Context, id string) error {
	if m.closed.Load() {
		return ErrClosed
	}
	s, err := m.store.Get(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return err
	case err != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return m.end(ctx, s, ReasonRevoked)
}

// end revokes s durably in the EpochStore, then deletes its record, drops
// it here, and emits session.ended. The durable record is written first so
// that the revocation survives the session store losing or rolling back
// the deletion (a flush, a restart from an old snapshot, a failover). If
// either write fails the session still ends if the other succeeded; it
// fails with ErrUnavailable only if neither did.
func (m *Manager) end(ctx context.Context, s Session, reason string) error {
	derr := m.epochs.RevokeSession(ctx, s.Subject, s.ID, s.Expires)
	m.forget(s.Subject)
	ended, err := m.store.Delete(ctx, s.ID)
	switch {
	case err == nil:
		s = ended
	case errors.Is(err, ErrNotFound) && derr == nil:
		return err
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: %w", err, derr)
	case derr != nil:
		return fmt.Errorf("%w: revoke: %w; delete: %w", ErrUnavailable, derr, err)
	default:
		m.o.logger.Warn("session: deletion not confirmed by the session store; the durable revocation stands", "err", err)
	}
	if derr != nil {
		m.o.logger.Warn("session: revocation not persisted; the deleted record is all that ends the session", "err", derr)
	}
	m.apply(Change{SessionID: s.ID})
	m.emit(ctx, EventEnded, s, map[string]string{"session": s.ID, "reason": reason})
	return nil
}

// LogoutEverywhere ends every session of subject: it first raises the
// subject's revocation epoch in the EpochStore past now and past every
// session of the subject created so far (so that none is accepted again,
// even if the session store loses or rolls back data), then deletes the
// records (reason logout-everywhere). A session created after it returns
// is accepted, even within the same clock tick. It returns how many
// records it deleted. If the session store cannot be reached, the epoch is
// raised all the same (the sessions are refused wherever the epoch is
// read) and the error wraps ErrUnavailable.
func (m *Manager) LogoutEverywhere(ctx context.Context, subject string) (int, error) {
	if m.closed.Load() {
		return 0, ErrClosed
	}
	if err := (Start{Subject: subject, Method: MethodPassword}).check(); err != nil {
		return 0, err
	}
	// The epoch must pass every session created so far: one created in
	// this clock tick, one created at the previous epoch (see startTime),
	// one created by a process whose clock is ahead of ours. If the
	// current epoch or the sessions cannot be read, the epoch is raised
	// all the same: the revocation must not depend on the session store.
	now := m.o.now()
	at := now
	if cur, err := m.epochs.Revocations(ctx, subject, now); err == nil && cur.Epoch.After(at) {
		at = cur.Epoch
	}
	list, lerr := m.store.List(ctx, subject)
	for _, s := range list {
		if s.Subject == subject && s.Created.After(at) && s.Created.Sub(now) <= m.o.leeway {
			at = s.Created
		}
	}
	epoch, err := m.epochs.RaiseEpoch(ctx, subject, at.Add(time.Nanosecond))
	if err != nil {
		return 0, fmt.Errorf("%w: raise revocation epoch: %w", ErrUnavailable, err)
	}
	m.forget(subject)
	// Whatever happens to the records, this process refuses the subject's
	// cached sessions from now on.
	m.byID.Range(func(id, v any) bool {
		if e := v.(*entry); e.s.Subject == subject && e.s.Created.Before(epoch) {
			m.apply(Change{SessionID: id.(string)})
		}
		return true
	})
	n := 0
	// Twice: a session being created concurrently (before the epoch) may
	// be stored after the first listing.
	for i := range 2 {
		if i > 0 || lerr != nil {
			if list, lerr = m.store.List(ctx, subject); lerr != nil {
				return n, fmt.Errorf("%w: list (the revocation epoch is raised): %w", ErrUnavailable, lerr)
			}
		}
		for _, s := range list {
			if !s.Created.Before(epoch) {
				continue
			}
			switch err := m.end(ctx, s, ReasonLogoutEverywhere); {
			case err == nil:
				n++
			case !errors.Is(err, ErrNotFound):
				return n, err
			}
		}
	}
	return n, nil
}

// List returns the subject's sessions that are in force now, oldest first.
// A subject Create would refuse wraps ErrInvalidInput.
func (m *Manager) List(ctx context.Context, subject string) ([]Session, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	if err := (Start{Subject: subject, Method: MethodPassword}).check(); err != nil {
		return nil, err
	}
	all, err := m.store.List(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("%w: list: %w", ErrUnavailable, err)
	}
	now := m.o.now()
	r, err := m.revocations(ctx, subject, now)
	if err != nil {
		return nil, fmt.Errorf("%w: revocations: %w", ErrUnavailable, err)
	}
	out := all[:0]
	for _, s := range all {
		if s.Subject == subject && now.Before(s.IdleDeadline()) && !now.Add(m.o.leeway).Before(s.Created) && !r.Revoked(s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// emit sends one event; a sink's error is logged.
func (m *Manager) emit(ctx context.Context, typ string, s Session, detail map[string]string) {
	if m.o.events == nil {
		return
	}
	e := iam.Event{
		Version: iam.EventSchemaVersion,
		ID:      audit.NewID(),
		Type:    typ,
		Time:    m.o.now(),
		Subject: rbac.Subject(s.Subject),
		Detail:  detail,
	}
	if err := m.o.events.Record(context.WithoutCancel(ctx), e); err != nil {
		m.o.logger.Warn("session: event sink failed", "type", typ, "err", err)
	}
}
