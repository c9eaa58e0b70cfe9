package signin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/session/password"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/signin/signintest"
)

// noSecretIn fails if any event (any field) or err's text holds one of
// the secrets.
func noSecretIn(t *testing.T, e *signintest.Env, err error, secrets ...string) {
	t.Helper()
	for _, ev := range e.Events.Events() {
		s := fmt.Sprintf("%+v %#v", ev, ev.Detail)
		for _, sec := range secrets {
			if sec != "" && strings.Contains(s, sec) {
				t.Fatalf("event %s holds a secret: %s", ev.Type, s)
			}
		}
	}
	if err != nil {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(fmt.Sprint(err), sec) {
				t.Fatalf("error holds a secret: %v", err)
			}
		}
	}
}

// Unknown email, wrong password, suspended and offboarded users (right or
// wrong password) all give the same error value and message, and emit
// the same event shape.
func TestAdversarialNoEnumeration(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, st := range []signin.Status{signin.StatusSuspended, signin.StatusOffboarded} {
		id := string(st)
		em := id + "@lakeview.ca"
		e.AddUser(t, id, em, good)
		u, _ := e.Store.User(ctx, id)
		u.Status = st
		if err := e.Store.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	cases := []signin.Attempt{
		{Email: "ghost@lakeview.ca", Password: "wrong password"},
		{Email: email, Password: "wrong password"},
		{Email: "suspended@lakeview.ca", Password: "wrong password"},
		{Email: "suspended@lakeview.ca", Password: good},
		{Email: "offboarded@lakeview.ca", Password: good},
		{Email: "offboarded@lakeview.ca", Password: "wrong password"},
	}
	for i, a := range cases {
		a.Client = fmt.Sprint("203.0.113.", i)
		_, err := e.Service.SignIn(ctx, a)
		if err != signin.ErrInvalidCredentials { //nolint:errorlint // the same value, not a wrapper
			t.Errorf("case %d (%s): err = %#v, want the ErrInvalidCredentials value", i, a.Email, err)
		}
		noSecretIn(t, e, err, a.Password)
	}
	for _, ev := range e.Events.Events() {
		if ev.Type != "login.failed" {
			t.Errorf("unexpected event %s", ev.Type)
		}
		if _, ok := ev.Detail["reason"]; !ok || len(ev.Detail) != 2 {
			t.Errorf("event shape %v", ev.Detail)
		}
	}
}

// Passwords the policy must refuse when set, whatever their spelling.
func TestAdversarialSetPasswordVariants(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for name, pw := range map[string]string{
		"whitespace only":        strings.Repeat(" ", 16),
		"tabs and spaces":        strings.Repeat(" \t", 8),
		"ideographic spaces":     strings.Repeat("\u3000", 16),
		"one char repeated":      strings.Repeat("a", 16),
		"common upper":           "PASSWORD1234",
		"common mixed case":      "PassWord123456",
		"common full-width":      "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11\uff12\uff13\uff14",
		"common with zero-width": "pass\u200bword1234",
		"too short":              "abcdefghijk",
		"too long":               strings.Repeat("ab", 65),
		"NUL at start":           "\x00correct horse battery",
		"NUL at end":             "correct horse battery\x00",
		"invalid UTF-8":          "correct horse \xc0\x80battery",
		"empty":                  "",
		"1MB":                    strings.Repeat("x", 1<<20),
		"email local part":       "xxclerkxx-horse-2026",
	} {
		err := e.Service.SetPassword(ctx, "u1", pw)
		if !errors.Is(err, password.ErrWeak) && !errors.Is(err, password.ErrInvalid) {
			t.Errorf("%s: SetPassword = %v, want ErrWeak or ErrInvalid", name, err)
		}
		if err != nil && len(pw) >= 4 && strings.Contains(err.Error(), pw) {
			t.Errorf("%s: error holds the password", name)
		}
	}
	// The original password still signs in: nothing was written.
	if _, err := e.Service.SignIn(ctx, attempt(good)); err != nil {
		t.Fatalf("after refused changes: %v", err)
	}
	// Exactly at the bounds: accepted.
	for name, pw := range map[string]string{
		"min 12":            "kq8#Vz!m2Lp0",
		"max 128":           strings.Repeat("kq8#Vz!m2Lp0xw7T", 8),
		"max 128 multibyte": strings.Repeat("éßøñ", 32),
	} {
		if err := e.Service.SetPassword(ctx, "u1", pw); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Emails that differ by case or surrounding whitespace are one account:
// one lockout counter, so rotating the spelling does not buy attempts.
func TestAdversarialEmailSpellingsShareCounter(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, signin.WithLockout(signin.Lockout{AccountLimit: 3, ClientLimit: 100}))
	spellings := []string{email, "CLERK@LAKEVIEW.CA", " clerk@lakeview.ca", "Clerk@Lakeview.Ca\t", "\nclerk@lakeview.ca "}
	for i, s := range spellings {
		_, err := e.Service.SignIn(ctx, signin.Attempt{Email: s, Password: "wrong password", Client: fmt.Sprint("c", i)})
		if i < 3 && !errors.Is(err, signin.ErrInvalidCredentials) || i >= 3 && !errors.Is(err, signin.ErrLocked) {
			t.Fatalf("spelling %q (%d): %v", s, i, err)
		}
	}
}

// Emails and client keys that no store can hold as text are refused as
// invalid input, not passed to the store.
func TestAdversarialMalformedEmailAndClient(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for name, a := range map[string]signin.Attempt{
		"NUL in email":     {Email: "clerk@lakeview.ca\x00", Password: good, Client: "c"},
		"bad UTF-8 email":  {Email: "clerk\xff@lakeview.ca", Password: good, Client: "c"},
		"NUL in client":    {Email: email, Password: good, Client: "c\x00"},
		"bad UTF-8 client": {Email: email, Password: good, Client: "c\xff"},
		"whitespace email": {Email: "   ", Password: good, Client: "c"},
		"control in email": {Email: "clerk\x01@lakeview.ca", Password: good, Client: "c"},
	} {
		_, err := e.Service.SignIn(ctx, a)
		if !errors.Is(err, signin.ErrInvalidInput) {
			t.Errorf("%s: %v, want ErrInvalidInput", name, err)
		}
	}
	if n := e.Hasher.Verified.Load() + e.Hasher.Dummies.Load(); n != 0 {
		t.Fatalf("%d verifications for malformed input", n)
	}
}

// 100 parallel wrong attempts from 100 clients: exactly the limit get a
// verdict, the rest are refused as locked.
func TestAdversarialParallel100(t *testing.T) {
	const limit = 7
	e := newEnv(t, signin.WithLockout(signin.Lockout{AccountLimit: limit, ClientLimit: 3}))
	ctx := context.Background()
	var locked, invalid atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			_, err := e.Service.SignIn(ctx, signin.Attempt{Email: email, Password: "wrong password", Client: fmt.Sprint("198.51.100.", i)})
			switch {
			case errors.Is(err, signin.ErrLocked):
				locked.Add(1)
			case errors.Is(err, signin.ErrInvalidCredentials):
				invalid.Add(1)
			default:
				t.Errorf("%d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if invalid.Load() != limit || e.Hasher.Verified.Load() != limit {
		t.Fatalf("invalid %d, verified %d, want %d", invalid.Load(), e.Hasher.Verified.Load(), limit)
	}
}

// The time-based unlock: refused one nanosecond before the lock ends,
// accepted at the instant it ends.
func TestAdversarialUnlockBoundary(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, signin.WithLockout(signin.Lockout{AccountLimit: 2, ClientLimit: 100, BaseDelay: time.Minute}))
	for range 2 {
		_, _ = e.Service.SignIn(ctx, attempt("wrong password"))
	}
	_, err := e.Service.SignIn(ctx, attempt(good))
	var le *signin.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("not locked: %v", err)
	}
	e.Clock.Advance(le.Until.Sub(e.Clock.Now()) - time.Nanosecond)
	if _, err := e.Service.SignIn(ctx, attempt(good)); !errors.Is(err, signin.ErrLocked) {
		t.Fatalf("1ns before: %v", err)
	}
	e.Clock.Advance(time.Nanosecond)
	if _, err := e.Service.SignIn(ctx, attempt(good)); err != nil {
		t.Fatalf("at the boundary: %v", err)
	}
}

// A locked account stays locked to every client, even ones never seen,
// and an admin unlock (in any email spelling) opens it.
func TestAdversarialLockedAcrossClientsAndAdminUnlock(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, signin.WithLockout(signin.Lockout{AccountLimit: 4, ClientLimit: 2}))
	for i := range 4 {
		_, _ = e.Service.SignIn(ctx, signin.Attempt{Email: email, Password: "wrong password", Client: fmt.Sprint("a", i/2)})
	}
	before := e.Hasher.Verified.Load()
	for i := range 50 {
		_, err := e.Service.SignIn(ctx, signin.Attempt{Email: email, Password: good, Client: fmt.Sprint("fresh", i)})
		var le *signin.LockedError
		if !errors.As(err, &le) || le.Scope != "account" {
			t.Fatalf("fresh client %d: %v", i, err)
		}
	}
	if e.Hasher.Verified.Load() != before {
		t.Fatal("passwords verified while locked")
	}
	if err := e.Service.Unlock(ctx, "  CLERK@lakeview.ca "); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.SignIn(ctx, signin.Attempt{Email: email, Password: good, Client: "fresh-after"}); err != nil {
		t.Fatalf("after admin unlock: %v", err)
	}
}

// One client hammering an account cannot lock it for others.
func TestAdversarialOneClientCannotLockAccount(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for range 100 {
		_, _ = e.Service.SignIn(ctx, signin.Attempt{Email: email, Password: "wrong password", Client: "attacker"})
	}
	e.Clock.Advance(2 * time.Hour)
	for range 100 {
		_, _ = e.Service.SignIn(ctx, signin.Attempt{Email: email, Password: "wrong password", Client: "attacker"})
	}
	if _, err := e.Service.SignIn(ctx, signin.Attempt{Email: email, Password: good, Client: "owner"}); err != nil {
		t.Fatalf("owner locked out by one client: %v", err)
	}
}

func enrolled(t *testing.T, opts ...signin.Option) (*signintest.Env, string, []string) {
	e := newEnv(t, append([]signin.Option{signin.WithLockout(signin.Lockout{AccountLimit: 1000, ClientLimit: 1000})}, opts...)...)
	secret, codes := e.Enrol(t, "u1")
	e.Clock.Advance(90 * time.Second)
	return e, secret, codes
}

func withCode(c string) signin.Attempt { a := attempt(good); a.Code = c; return a }

// TOTP codes in every malformed shape are refused, typed, and never
// accepted: spaces, 5 or 7 digits, Arabic-Indic and full-width digits,
// signs, and the right code wrapped in any of these.
func TestAdversarialTOTPShapes(t *testing.T) {
	ctx := context.Background()
	e, secret, _ := enrolled(t)
	code, _ := e.TOTP.Code(secret, e.Clock.Now())
	arabic := strings.Map(func(r rune) rune { return r - '0' + '\u0660' }, code)
	eastern := strings.Map(func(r rune) rune { return r - '0' + '\u06f0' }, code)
	full := strings.Map(func(r rune) rune { return r - '0' + '\uff10' }, code)
	for name, c := range map[string]string{
		"arabic-indic": arabic, "extended arabic-indic": eastern, "full-width": full,
		"7 digits": code + "0", "leading 0 added": "0" + code, "5 digits": code[:5],
		"plus sign": "+" + code[1:], "minus": "-" + code[1:], "NUL": code[:3] + "\x00" + code[3:],
		"trailing newline": code + "\n", "bad UTF-8": code[:5] + "\xff",
	} {
		_, err := e.Service.SignIn(ctx, withCode(c))
		if err == nil {
			t.Fatalf("%s (%q) accepted", name, c)
		}
		if !errors.Is(err, signin.ErrInvalidCode) && !errors.Is(err, signin.ErrInvalidInput) {
			t.Errorf("%s: %v, want ErrInvalidCode or ErrInvalidInput", name, err)
		}
		noSecretIn(t, e, err, good, secret, c)
	}
	// The right code still works once.
	if _, err := e.Service.SignIn(ctx, withCode(code)); err != nil {
		t.Fatalf("right code: %v", err)
	}
	noSecretIn(t, e, nil, good, secret, code)
}

// A code for the next step (inside the skew) then the current one: the
// current one is then older than the last accepted and is refused; so is
// the previous step's.
func TestAdversarialTOTPFutureThenCurrent(t *testing.T) {
	ctx := context.Background()
	e, secret, _ := enrolled(t)
	now := e.Clock.Now()
	next, _ := e.TOTP.Code(secret, now.Add(30*time.Second))
	cur, _ := e.TOTP.Code(secret, now)
	prev, _ := e.TOTP.Code(secret, now.Add(-30*time.Second))
	if _, err := e.Service.SignIn(ctx, withCode(next)); err != nil {
		t.Fatalf("next step: %v", err)
	}
	for name, c := range map[string]string{"current": cur, "previous": prev, "next again": next} {
		if c == next && name != "next again" {
			continue
		}
		if _, err := e.Service.SignIn(ctx, withCode(c)); !errors.Is(err, signin.ErrInvalidCode) {
			t.Errorf("%s after next: %v", name, err)
		}
	}
}

// 20 parallel CompleteMFA calls with one code, and 20 parallel VerifyCode
// calls: one wins each time.
func TestAdversarialTOTPParallelPaths(t *testing.T) {
	ctx := context.Background()
	e, secret, _ := enrolled(t)
	r, err := e.Service.SignIn(ctx, attempt(good))
	if err != nil || !r.MFARequired {
		t.Fatalf("%+v %v", r, err)
	}
	code, _ := e.TOTP.Code(secret, e.Clock.Now())
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := e.Service.CompleteMFA(ctx, signin.MFAAttempt{Challenge: r.Challenge, Code: code, Client: fmt.Sprint("c", i)})
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, signin.ErrInvalidCode) {
				t.Errorf("%v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("CompleteMFA: %d wins", wins.Load())
	}
	e.Clock.Advance(30 * time.Second)
	code, _ = e.TOTP.Code(secret, e.Clock.Now())
	wins.Store(0)
	for i := range 20 {
		wg.Go(func() {
			if _, err := e.Service.VerifyCode(ctx, "u1", signin.MFAAttempt{Code: code, Client: fmt.Sprint("c", i)}); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("VerifyCode: %d wins", wins.Load())
	}
	noSecretIn(t, e, nil, good, secret, code)
}

// Recovery codes: single use under 20 parallel uses (each code), case
// and dash variants are the same code (so also used), regeneration
// invalidates every old one.
func TestAdversarialRecoveryCodes(t *testing.T) {
	ctx := context.Background()
	e, secret, codes := enrolled(t)
	var wins atomic.Int64
	var wg sync.WaitGroup
	variants := func(c string) []string {
		return []string{c, strings.ToUpper(c), strings.ReplaceAll(c, "-", ""), strings.ReplaceAll(c, "-", " "), " " + c + " "}
	}
	for i := range 20 {
		wg.Go(func() {
			v := variants(codes[0])
			if _, err := e.Service.SignIn(ctx, signin.Attempt{Email: email, Password: good, Code: v[i%len(v)], Client: fmt.Sprint("c", i)}); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, signin.ErrInvalidCode) {
				t.Errorf("%v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("recovery code used %d times", wins.Load())
	}
	fresh, err := e.Service.RegenerateRecoveryCodes(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes[1:] {
		if _, err := e.Service.SignIn(ctx, withCode(c)); !errors.Is(err, signin.ErrInvalidCode) {
			t.Fatalf("old code after regeneration: %v", err)
		}
	}
	r, err := e.Service.SignIn(ctx, withCode(fresh[0]))
	if err != nil || r.Methods[1] != signin.MethodRecoveryCode {
		t.Fatalf("fresh code: %+v %v", r, err)
	}
	all := append(append([]string{good, secret}, codes...), fresh...)
	noSecretIn(t, e, nil, all...)
	for _, c := range append(codes, fresh...) { // also without the dash
		noSecretIn(t, e, nil, strings.ReplaceAll(c, "-", ""))
	}
}

// Confirming an enrolment twice (same code, or in parallel) works once and
// makes one set of recovery codes.
func TestAdversarialConfirmReplay(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	en, err := e.Service.BeginTOTP(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := e.TOTP.Code(en.Secret, e.Clock.Now())
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := e.Service.ConfirmTOTP(ctx, "u1", code); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, signin.ErrInvalidCode) && !errors.Is(err, signin.ErrAlreadyEnrolled) {
				t.Errorf("%v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || e.Events.Count("mfa.enrolled", "") != 1 {
		t.Fatalf("confirmed %d times, %d events", wins.Load(), e.Events.Count("mfa.enrolled", ""))
	}
	if _, err := e.Service.ConfirmTOTP(ctx, "u1", code); !errors.Is(err, signin.ErrAlreadyEnrolled) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := e.Service.BeginTOTP(ctx, "u1"); !errors.Is(err, signin.ErrAlreadyEnrolled) {
		t.Fatalf("re-begin: %v", err)
	}
	noSecretIn(t, e, nil, good, en.Secret, code)
}

// User ids that no store can hold are invalid input on every entry
// point that takes one.
func TestAdversarialMalformedUserIDs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, id := range []string{"", "u1\x00", "u\xff", strings.Repeat("u", 1<<20)} {
		checks := map[string]error{
			"SetPassword": e.Service.SetPassword(ctx, id, "a fine long passphrase"),
		}
		_, checks["BeginTOTP"] = e.Service.BeginTOTP(ctx, id)
		_, checks["ConfirmTOTP"] = e.Service.ConfirmTOTP(ctx, id, "123456")
		_, checks["RegenerateRecoveryCodes"] = e.Service.RegenerateRecoveryCodes(ctx, id)
		_, checks["VerifyCode"] = e.Service.VerifyCode(ctx, id, signin.MFAAttempt{Code: "123456", Client: "c"})
		for name, err := range checks {
			if err == nil {
				t.Errorf("%s(%.10q) succeeded", name, id)
			}
		}
	}
}
