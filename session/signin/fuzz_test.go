package signin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/signin/signintest"
)

// FuzzChallenge feeds arbitrary strings as MFA challenges and device
// tokens: nothing panics, no forged challenge is accepted, and a forged
// device token never lifts an account lock.
func FuzzChallenge(f *testing.F) {
	e := signintest.NewEnv(f, signin.NewMemStore(), signin.WithLockout(signin.Lockout{AccountLimit: 1, ClientLimit: 1 << 20}))
	e.AddUser(f, "u1", email, good)
	e.Enrol(f, "u1")
	ctx := context.Background()
	r, err := e.Service.SignIn(ctx, attempt(good))
	if err != nil || !r.MFARequired {
		f.Fatalf("setup: %+v %v", r, err)
	}
	_, _ = e.Service.SignIn(ctx, attempt("wrong")) // lock the account
	for _, s := range []string{r.Challenge, "", "mc1...", "dv1.dTE.AAAA.AAAA", r.Challenge[:len(r.Challenge)-1], "mc1.dTE." + r.Challenge[8:]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if tok == r.Challenge {
			return
		}
		_, err := e.Service.CompleteMFA(ctx, signin.MFAAttempt{Challenge: tok, Code: "123456", Client: "c"})
		if !errors.Is(err, signin.ErrMFARequired) && !errors.Is(err, signin.ErrInvalidInput) {
			t.Fatalf("challenge %q: %v", tok, err)
		}
		a := attempt(good)
		a.DeviceToken = tok
		if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrLocked) && !errors.Is(err, signin.ErrInvalidInput) {
			t.Fatalf("device token %q: %v", tok, err)
		}
	})
}
