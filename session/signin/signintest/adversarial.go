package signintest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/session/signin"
)

// RunAdversarial runs the attack variations on a store: 100 parallel
// wrong passwords, parallel recovery-code and CompleteMFA replays, and
// malformed keys and ids, which must be typed errors on every store.
func RunAdversarial(t *testing.T, newStore func(t testing.TB) signin.Store) {
	t.Run("Parallel100WrongPasswords", func(t *testing.T) { testParallel100(t, newStore(t)) })
	t.Run("ParallelRecoveryCode", func(t *testing.T) { testParallelRecovery(t, newStore(t)) })
	t.Run("ParallelCompleteMFA", func(t *testing.T) { testParallelCompleteMFA(t, newStore(t)) })
	t.Run("MalformedInput", func(t *testing.T) { testMalformedInput(t, newStore(t)) })
	t.Run("ParallelRegenerate", func(t *testing.T) { testParallelRegenerate(t, newStore(t)) })
	t.Run("ParallelFirstWrites", func(t *testing.T) { testParallelFirstWrites(t, newStore(t)) })
	t.Run("UnlockBoundary", func(t *testing.T) { testUnlockBoundary(t, newStore(t)) })
}

// A lock ends exactly at LockedError.Until (refused 1 ns before, accepted
// at it), holds against clients never seen, and an administrator's
// Unlock, given the email in any case, ends it early.
func testUnlockBoundary(t *testing.T, s signin.Store) {
	ctx := context.Background()
	e := NewEnv(t, s, signin.WithLockout(signin.Lockout{AccountLimit: 2, ClientLimit: 1}))
	e.AddUser(t, "u1", "clerk@lakeview.ca", "correct horse battery staple")
	good := signin.Attempt{Email: "clerk@lakeview.ca", Password: "correct horse battery staple"}
	lock := func() *signin.LockedError {
		for i := range 2 {
			_, _ = e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: "wrong password", Client: fmt.Sprint("w", i, e.Clock.Now().UnixNano())})
		}
		a := good
		a.Client = fmt.Sprint("fresh", e.Clock.Now().UnixNano())
		_, err := e.Service.SignIn(ctx, a)
		var le *signin.LockedError
		if !errors.As(err, &le) || le.Scope != "account" {
			t.Fatalf("not locked: %v", err)
		}
		return le
	}
	le := lock()
	e.Clock.Advance(le.Until.Sub(e.Clock.Now()) - time.Nanosecond)
	a := good
	a.Client = "other"
	if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrLocked) {
		t.Fatalf("1 ns before the end: %v", err)
	}
	e.Clock.Advance(time.Nanosecond)
	a.Client = "third"
	if _, err := e.Service.SignIn(ctx, a); err != nil {
		t.Fatalf("at the end: %v", err)
	}
	lock()
	if err := e.Service.Unlock(ctx, " CLERK@LakeView.ca "); err != nil {
		t.Fatal(err)
	}
	a.Client = "fourth"
	if _, err := e.Service.SignIn(ctx, a); err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	if e.Events.Count("account.unlocked", "") != 1 {
		t.Fatal("no account.unlocked event")
	}
}

// A user's first password hash and first TOTP enrolment, written by ten
// callers at once, all succeed (no spurious ErrExists) and leave one row.
func testParallelFirstWrites(t *testing.T, s signin.Store) {
	ctx := context.Background()
	mkUser(t, s, "u1")
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := s.SetPasswordHash(ctx, "u1", fmt.Sprint("h", i)); err != nil {
				t.Errorf("SetPasswordHash: %v", err)
			}
			if err := s.PutTOTP(ctx, "u1", fmt.Sprint("sealed", i)); err != nil {
				t.Errorf("PutTOTP: %v", err)
			}
		})
	}
	wg.Wait()
	if h, err := s.PasswordHash(ctx, "u1"); err != nil || !strings.HasPrefix(h, "h") {
		t.Fatalf("hash %q, %v", h, err)
	}
	if r, err := s.TOTP(ctx, "u1"); err != nil || r.Confirmed || !strings.HasPrefix(r.Sealed, "sealed") {
		t.Fatalf("TOTP %+v, %v", r, err)
	}
}

// Ten parallel regenerations of recovery codes leave exactly one set of
// ten: the codes of every call but the last to commit stop working.
func testParallelRegenerate(t *testing.T, s signin.Store) {
	ctx := context.Background()
	e, _, _ := enrolledEnv(t, s)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := e.Service.RegenerateRecoveryCodes(ctx, "u1"); err != nil {
				t.Errorf("regenerate: %v", err)
			}
		})
	}
	wg.Wait()
	if n, err := s.RecoveryCodesLeft(ctx, "u1"); err != nil || n != 10 {
		t.Fatalf("%d recovery codes valid after parallel regenerations (%v), want 10", n, err)
	}
}

// 100 attempts at once, each from its own client, against one account
// with limit 7: exactly 7 verifications, one lock, exact counter.
func testParallel100(t *testing.T, s signin.Store) {
	const limit = 7
	e := NewEnv(t, s, signin.WithLockout(signin.Lockout{AccountLimit: limit, ClientLimit: 2}))
	e.AddUser(t, "u1", "clerk@lakeview.ca", "correct horse battery staple")
	ctx := context.Background()
	var invalid, locked atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			_, err := e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: "wrong password", Client: fmt.Sprint("203.0.113.", i)})
			switch {
			case errors.Is(err, signin.ErrInvalidCredentials):
				invalid.Add(1)
			case errors.Is(err, signin.ErrLocked):
				locked.Add(1)
			default:
				t.Errorf("attempt %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if invalid.Load() != limit || locked.Load() != 100-limit || e.Hasher.Verified.Load() != limit {
		t.Fatalf("invalid %d, locked %d, verified %d; want %d, %d, %d", invalid.Load(), locked.Load(), e.Hasher.Verified.Load(), limit, 100-limit, limit)
	}
	if n := e.Events.Count("account.locked", ""); n != 1 {
		t.Fatalf("%d account.locked events", n)
	}
	if c, _, _ := s.LoadCounter(ctx, "login:clerk@lakeview.ca"); c.Failures != limit || c.LockedUntil.IsZero() {
		t.Fatalf("counter %+v", c)
	}
}

func enrolledEnv(t *testing.T, s signin.Store) (*Env, string, []string) {
	e := NewEnv(t, s, signin.WithLockout(signin.Lockout{AccountLimit: 1000, ClientLimit: 1000}))
	e.AddUser(t, "u1", "clerk@lakeview.ca", "correct horse battery staple")
	secret, codes := e.Enrol(t, "u1")
	e.Clock.Advance(90 * time.Second)
	return e, secret, codes
}

// 20 parallel sign-ins with one recovery code (in several spellings)
// succeed once; after regeneration no old code works.
func testParallelRecovery(t *testing.T, s signin.Store) {
	ctx := context.Background()
	e, _, codes := enrolledEnv(t, s)
	spell := []string{codes[0], strings.ToUpper(codes[0]), strings.ReplaceAll(codes[0], "-", "")}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: "correct horse battery staple", Code: spell[i%3], Client: fmt.Sprint("c", i)})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, signin.ErrInvalidCode):
				t.Errorf("%v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("one recovery code signed in %d times", wins.Load())
	}
	if n, _ := s.RecoveryCodesLeft(ctx, "u1"); n != len(codes)-1 {
		t.Fatalf("%d codes left", n)
	}
	if _, err := e.Service.RegenerateRecoveryCodes(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range codes[1:] {
		_, err := e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: "correct horse battery staple", Code: c, Client: "c"})
		if !errors.Is(err, signin.ErrInvalidCode) {
			t.Fatalf("old code after regeneration: %v", err)
		}
	}
}

// One MFA challenge and one code, 20 parallel CompleteMFA calls: one
// session.
func testParallelCompleteMFA(t *testing.T, s signin.Store) {
	ctx := context.Background()
	e, secret, _ := enrolledEnv(t, s)
	r, err := e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: "correct horse battery staple", Client: "c"})
	if err != nil || !r.MFARequired {
		t.Fatalf("%+v %v", r, err)
	}
	code, _ := e.TOTP.Code(secret, e.Clock.Now())
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := e.Service.CompleteMFA(ctx, signin.MFAAttempt{Challenge: r.Challenge, Code: code, Client: fmt.Sprint("c", i)})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, signin.ErrInvalidCode):
				t.Errorf("%v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("one code completed MFA %d times", wins.Load())
	}
}

// Text a store cannot hold (NUL, invalid UTF-8, control characters) in an
// email, a client key or a user id is ErrInvalidInput on every store, and
// leaves no counter behind.
func testMalformedInput(t *testing.T, s signin.Store) {
	ctx := context.Background()
	e := NewEnv(t, s)
	e.AddUser(t, "u1", "clerk@lakeview.ca", "correct horse battery staple")
	pw := "correct horse battery staple"
	for name, a := range map[string]signin.Attempt{
		"NUL email":    {Email: "clerk@lakeview.ca\x00", Password: pw, Client: "c"},
		"UTF-8 email":  {Email: "cl\xe9rk@lakeview.ca", Password: pw, Client: "c"},
		"NUL client":   {Email: "clerk@lakeview.ca", Password: pw, Client: "c\x00"},
		"UTF-8 client": {Email: "clerk@lakeview.ca", Password: pw, Client: "\xff"},
	} {
		if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrInvalidInput) {
			t.Errorf("SignIn %s: %v, want ErrInvalidInput", name, err)
		}
	}
	if err := e.Service.Unlock(ctx, "clerk@lakeview.ca\x00"); !errors.Is(err, signin.ErrInvalidInput) {
		t.Errorf("Unlock NUL email: %v", err)
	}
	for _, id := range []string{"", "u1\x00", "u\xff1", "U1", strings.Repeat("u", 101)} {
		errs := map[string]error{"SetPassword": e.Service.SetPassword(ctx, id, "a distinct good passphrase")}
		_, errs["BeginTOTP"] = e.Service.BeginTOTP(ctx, id)
		_, errs["ConfirmTOTP"] = e.Service.ConfirmTOTP(ctx, id, "123456")
		_, errs["RegenerateRecoveryCodes"] = e.Service.RegenerateRecoveryCodes(ctx, id)
		_, errs["VerifyCode"] = e.Service.VerifyCode(ctx, id, signin.MFAAttempt{Code: "123456", Client: "c"})
		_, errs["StepUp"] = e.Service.StepUp(ctx, id, []string{signin.MethodPassword}, signin.MFAAttempt{Code: "123456", Client: "c"})
		errs["ResetMFA"] = e.Service.ResetMFA(ctx, id)
		_, errs["HasMFA"] = e.Service.HasMFA(ctx, id)
		for op, err := range errs {
			if !errors.Is(err, signin.ErrInvalidInput) {
				t.Errorf("%s(%.12q): %v, want ErrInvalidInput", op, id, err)
			}
		}
	}
	if _, err := e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: pw, Client: "c"}); err != nil {
		t.Fatalf("the real user after malformed input: %v", err)
	}
}
