package signin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/signin/signintest"
)

func newManager(t *testing.T, clock func() time.Time) *session.Manager {
	t.Helper()
	key, err := session.GenerateKey(session.EdDSA, "k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := session.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(session.NewMemoryStore(), keys, session.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Sign-in through a session.Manager: one factor gives a single-factor
// session with MFA not required; password and TOTP give a new,
// multi-factor session with MFA done; a step-up on a password session
// replaces it with a multi-factor one and the old token stops working.
func TestManagerSessions(t *testing.T) {
	ctx := context.Background()
	store := signin.NewMemStore()
	var m *session.Manager
	e := signintest.NewEnv(t, store, signin.WithSessions(signin.SessionsFunc(func(ctx context.Context, r signin.StartRequest) (signin.Started, error) {
		return signin.ManagerSessions(m).Start(ctx, r)
	})))
	m = newManager(t, e.Clock.Now)
	e.AddUser(t, "u1", email, good)

	r, err := e.Service.SignIn(ctx, attempt(good))
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Verify(ctx, r.Session.Token)
	if err != nil || s.Subject != "user:u1" || s.MFA != session.MFANotRequired || s.Level != session.LevelPassword || s.ID != r.Session.ID {
		t.Fatalf("password session %+v, %v", s, err)
	}

	secret, _ := e.Enrol(t, "u1")
	e.Clock.Advance(30 * time.Second)
	code, _ := e.TOTP.Code(secret, e.Clock.Now())
	// Step-up on the password session.
	meth, err := e.Service.VerifyCode(ctx, "u1", signin.MFAAttempt{Code: code, Client: "198.51.100.7"})
	if err != nil || meth != signin.MethodTOTP {
		t.Fatalf("VerifyCode: %q, %v", meth, err)
	}
	mt, _ := session.ParseMethod(meth)
	up, upTok, err := m.CompleteMFA(ctx, r.Session.Token, mt)
	if err != nil || up.MFA != session.MFADone || up.ID == s.ID {
		t.Fatalf("CompleteMFA: %+v, %v", up, err)
	}
	if _, err := m.Verify(ctx, r.Session.Token); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("pre-step-up token: %v", err)
	}
	if _, err := m.Verify(ctx, upTok); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.VerifyCode(ctx, "u1", signin.MFAAttempt{Code: code, Client: "198.51.100.7"}); !errors.Is(err, signin.ErrInvalidCode) {
		t.Fatalf("VerifyCode replay: %v", err)
	}

	// Sign-in with password and code in one attempt.
	e.Clock.Advance(30 * time.Second)
	a := attempt(good)
	a.Code, _ = e.TOTP.Code(secret, e.Clock.Now())
	r2, err := e.Service.SignIn(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := m.Verify(ctx, r2.Session.Token)
	if err != nil || s2.MFA != session.MFADone || s2.Level != session.LevelMFA || !s2.Methods.Has(session.MethodTOTP) || !s2.Methods.Has(session.MethodPassword) {
		t.Fatalf("MFA session %+v, %v", s2, err)
	}
}
