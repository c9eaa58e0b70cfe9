package signin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/signin/signintest"
)

func TestMemStore(t *testing.T) {
	signintest.Run(t, func(testing.TB) signin.Store { return signin.NewMemStore() })
	signintest.RunAdversarial(t, func(testing.TB) signin.Store { return signin.NewMemStore() })
}

const (
	email = "clerk@lakeview.ca"
	good  = "correct horse battery staple"
)

func newEnv(t *testing.T, opts ...signin.Option) *signintest.Env {
	e := signintest.NewEnv(t, signin.NewMemStore(), opts...)
	e.AddUser(t, "u1", email, good)
	return e
}

func attempt(pw string) signin.Attempt {
	return signin.Attempt{Email: email, Password: pw, Client: "198.51.100.7"}
}

func TestSignInPassword(t *testing.T) {
	var started []signin.StartRequest
	e := newEnv(t, signin.WithSessions(signin.SessionsFunc(func(_ context.Context, r signin.StartRequest) (signin.Started, error) {
		started = append(started, r)
		return signin.Started{ID: fmt.Sprint("s", len(started)), Token: "tok"}, nil
	})))
	r, err := e.Service.SignIn(context.Background(), attempt(good))
	if err != nil {
		t.Fatal(err)
	}
	if r.User.ID != "u1" || r.MFA || r.MFARequired || r.Session.ID != "s1" || r.DeviceToken == "" {
		t.Fatalf("result %+v", r)
	}
	if len(started) != 1 || started[0].Subject != "user:u1" || started[0].MFA || strings.Join(started[0].Methods, ",") != "password" {
		t.Fatalf("session requests %+v", started)
	}
	if e.Events.Count("login.succeeded", "") != 1 {
		t.Fatal("no login.succeeded event")
	}
	// Mixed-case email with spaces is the same account.
	a := attempt(good)
	a.Email = "  Clerk@LakeView.CA "
	if _, err := e.Service.SignIn(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// An unknown email gets the same error and message as a wrong password,
// after a verification against the dummy hash; no event names the login.
func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, wrong := e.Service.SignIn(ctx, attempt("wrong password"))
	a := attempt("wrong password")
	a.Email = "nobody@lakeview.ca"
	a.Client = "198.51.100.8"
	_, unknown := e.Service.SignIn(ctx, a)
	if !errors.Is(wrong, signin.ErrInvalidCredentials) || !errors.Is(unknown, signin.ErrInvalidCredentials) {
		t.Fatalf("errors %v / %v", wrong, unknown)
	}
	if wrong.Error() != unknown.Error() {
		t.Fatalf("messages differ: %q vs %q", wrong, unknown)
	}
	if e.Hasher.Dummies.Load() != 1 || e.Hasher.Verified.Load() != 1 {
		t.Fatalf("dummy verifications %d, real %d; want 1 and 1", e.Hasher.Dummies.Load(), e.Hasher.Verified.Load())
	}
	for _, ev := range e.Events.Events() {
		for k, v := range ev.Detail {
			if strings.Contains(v, "nobody") || strings.Contains(v, "wrong password") {
				t.Fatalf("event %s detail %s=%q leaks the attempt", ev.Type, k, v)
			}
		}
	}
	// A user without a password also verifies against the dummy.
	if _, err := e.Service.CreateUser(ctx, signin.User{ID: "u2", Email: "nopw@lakeview.ca"}); err != nil {
		t.Fatal(err)
	}
	a.Email = "nopw@lakeview.ca"
	if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrInvalidCredentials) || e.Hasher.Dummies.Load() != 2 {
		t.Fatalf("no password: %v, dummies %d", err, e.Hasher.Dummies.Load())
	}
	// Unknown emails lock like known ones.
	for i := range 20 {
		a := attempt("wrong")
		a.Email = "ghost@lakeview.ca"
		a.Client = fmt.Sprint("192.0.2.", i)
		_, err := e.Service.SignIn(ctx, a)
		if i < 10 && !errors.Is(err, signin.ErrInvalidCredentials) || i >= 10 && !errors.Is(err, signin.ErrLocked) {
			t.Fatalf("ghost attempt %d: %v", i, err)
		}
	}
}

// Malformed passwords are refused, typed, before any counter or hash.
func TestBadPasswordsChangeNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for name, pw := range map[string]string{
		"empty": "", "1MB": strings.Repeat("p", 1<<20), "NUL": "correct horse\x00battery staple", "not UTF-8": "\xff\xfe",
	} {
		_, err := e.Service.SignIn(ctx, attempt(pw))
		if !errors.Is(err, signin.ErrInvalidInput) {
			t.Errorf("%s: %v, want ErrInvalidInput", name, err)
		}
	}
	for name, a := range map[string]signin.Attempt{
		"no client":   {Email: email, Password: good},
		"huge client": {Email: email, Password: good, Client: strings.Repeat("c", 1000)},
		"huge email":  {Email: strings.Repeat("e", 1000) + "@x.ca", Password: good, Client: "c"},
		"huge code":   {Email: email, Password: good, Client: "c", Code: strings.Repeat("1", 1000)},
	} {
		if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrInvalidInput) {
			t.Errorf("%s: %v, want ErrInvalidInput", name, err)
		}
	}
	if n := e.Hasher.Verified.Load() + e.Hasher.Dummies.Load(); n != 0 {
		t.Fatalf("%d verifications for malformed input", n)
	}
	for _, key := range []string{"login:" + email, "client:198.51.100.7"} {
		if c, v, _ := e.Store.LoadCounter(ctx, key); v != 0 || c.Failures != 0 {
			t.Fatalf("counter %s changed: %+v", key, c)
		}
	}
	if len(e.Events.Events()) != 0 {
		t.Fatalf("events for malformed input: %+v", e.Events.Events())
	}
}

// NFC and NFD spellings of one password sign in alike.
func TestNormalisedPasswordSignsIn(t *testing.T) {
	e := signintest.NewEnv(t, signin.NewMemStore())
	e.AddUser(t, "u1", email, "mot de passe d\u00e9j\u00e0 vu 2026")
	if _, err := e.Service.SignIn(context.Background(), attempt("mot de passe de\u0301ja\u0300 vu 2026")); err != nil {
		t.Fatalf("NFD spelling: %v", err)
	}
}

func TestInactiveUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, _ := e.Store.User(ctx, "u1")
	u.Status = signin.StatusSuspended
	if err := e.Store.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, err := e.Service.SignIn(ctx, attempt(good))
	if !errors.Is(err, signin.ErrInvalidCredentials) || err.Error() != signin.ErrInvalidCredentials.Error() {
		t.Fatalf("suspended: %v", err)
	}
	if e.Events.Count("login.failed", "inactive") != 1 {
		t.Fatal("no inactive event")
	}
}

// Locks grow: each consecutive lock doubles; Unlock ends one at once.
func TestLockDelayGrowsAndUnlock(t *testing.T) {
	e := newEnv(t, signin.WithLockout(signin.Lockout{AccountLimit: 2, ClientLimit: 100, BaseDelay: time.Minute, MaxDelay: 3 * time.Minute, Window: time.Hour}))
	ctx := context.Background()
	lockLen := func() time.Duration {
		t.Helper()
		for range 2 {
			if _, err := e.Service.SignIn(ctx, attempt("wrong")); !errors.Is(err, signin.ErrInvalidCredentials) {
				t.Fatalf("wrong: %v", err)
			}
		}
		_, err := e.Service.SignIn(ctx, attempt("wrong"))
		var le *signin.LockedError
		if !errors.As(err, &le) {
			t.Fatalf("third: %v", err)
		}
		d := le.Until.Sub(e.Clock.Now())
		e.Clock.Advance(d)
		return d
	}
	if d := lockLen(); d != time.Minute {
		t.Fatalf("first lock %v", d)
	}
	if d := lockLen(); d != 2*time.Minute {
		t.Fatalf("second lock %v", d)
	}
	if d := lockLen(); d != 3*time.Minute {
		t.Fatalf("third lock %v (capped)", d)
	}
	for range 2 {
		_, _ = e.Service.SignIn(ctx, attempt("wrong"))
	}
	if _, err := e.Service.SignIn(ctx, attempt(good)); !errors.Is(err, signin.ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	if err := e.Service.Unlock(ctx, email); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.SignIn(ctx, attempt(good)); err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
}

// A device that signed in before keeps signing in while attackers
// elsewhere hold the account locked.
func TestDeviceTokenSurvivesAccountLock(t *testing.T) {
	e := newEnv(t, signin.WithLockout(signin.Lockout{AccountLimit: 3, ClientLimit: 2}))
	ctx := context.Background()
	r, err := e.Service.SignIn(ctx, attempt(good))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		a := attempt("guess")
		a.Client = fmt.Sprint("203.0.113.", i)
		_, _ = e.Service.SignIn(ctx, a)
	}
	if _, err := e.Service.SignIn(ctx, attempt(good)); !errors.Is(err, signin.ErrLocked) {
		t.Fatalf("without device token: %v", err)
	}
	a := attempt(good)
	a.Client = "198.51.100.99"
	a.DeviceToken = r.DeviceToken
	if _, err := e.Service.SignIn(ctx, a); err != nil {
		t.Fatalf("with device token: %v", err)
	}
	// A forged token, or one for another user, does not help.
	forged := []byte(r.DeviceToken)
	if i := len(forged) - 5; forged[i] == 'A' {
		forged[i] = 'B'
	} else {
		forged[i] = 'A'
	}
	a.DeviceToken = string(forged)
	a.Client = "198.51.100.98"
	if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrLocked) {
		t.Fatalf("forged token: %v", err)
	}
	e.AddUser(t, "u2", "planner@lakeview.ca", "a distinct good passphrase")
	r2, err := e.Service.SignIn(ctx, signin.Attempt{Email: "planner@lakeview.ca", Password: "a distinct good passphrase", Client: "198.51.100.97"})
	if err != nil {
		t.Fatal(err)
	}
	a.DeviceToken = r2.DeviceToken
	a.Client = "198.51.100.96"
	if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrLocked) {
		t.Fatalf("another user's token: %v", err)
	}
}

func TestMFAFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	secret, codes := e.Enrol(t, "u1")
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	if e.Events.Count("mfa.enrolled", "") != 1 {
		t.Fatal("no mfa.enrolled")
	}
	e.Clock.Advance(30 * time.Second)
	r, err := e.Service.SignIn(ctx, attempt(good))
	if err != nil || !r.MFARequired || r.Challenge == "" || r.Session.ID != "" || r.DeviceToken != "" {
		t.Fatalf("password only: %+v, %v", r, err)
	}
	code, _ := e.TOTP.Code(secret, e.Clock.Now())
	done, err := e.Service.CompleteMFA(ctx, signin.MFAAttempt{Challenge: r.Challenge, Code: code, Client: "198.51.100.7"})
	if err != nil || !done.MFA || strings.Join(done.Methods, ",") != "password,totp" {
		t.Fatalf("CompleteMFA: %+v, %v", done, err)
	}
	if _, err := e.Service.CompleteMFA(ctx, signin.MFAAttempt{Challenge: r.Challenge, Code: code, Client: "198.51.100.7"}); !errors.Is(err, signin.ErrInvalidCode) {
		t.Fatalf("replayed code: %v", err)
	}
	if e.Events.Count("mfa.verified", "") != 1 || e.Events.Count("mfa.failed", "reused") != 1 {
		t.Fatal("mfa events")
	}
	// Bad challenges.
	for _, ch := range []string{"", "mc1.x.y.z", r.Challenge + "x", strings.Repeat("A", 5000)} {
		if _, err := e.Service.CompleteMFA(ctx, signin.MFAAttempt{Challenge: ch, Code: code, Client: "c"}); !errors.Is(err, signin.ErrMFARequired) {
			t.Fatalf("challenge %.20q: %v", ch, err)
		}
	}
	e.Clock.Advance(6 * time.Minute)
	if _, err := e.Service.CompleteMFA(ctx, signin.MFAAttempt{Challenge: r.Challenge, Code: code, Client: "c"}); !errors.Is(err, signin.ErrMFARequired) {
		t.Fatalf("expired challenge: %v", err)
	}
	// Recovery codes: each once.
	a := attempt(good)
	a.Code = strings.ToUpper(codes[0])
	if r, err := e.Service.SignIn(ctx, a); err != nil || r.Methods[1] != signin.MethodRecoveryCode {
		t.Fatalf("recovery code: %+v, %v", r, err)
	}
	if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrInvalidCode) {
		t.Fatalf("recovery code reused: %v", err)
	}
	fresh, err := e.Service.RegenerateRecoveryCodes(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	a.Code = codes[1]
	if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrInvalidCode) {
		t.Fatalf("old recovery code after regeneration: %v", err)
	}
	a.Code = fresh[0]
	if _, err := e.Service.SignIn(ctx, a); err != nil {
		t.Fatalf("fresh recovery code: %v", err)
	}
	// Step-up on an existing password session.
	e.Clock.Advance(30 * time.Second)
	code, _ = e.TOTP.Code(secret, e.Clock.Now())
	up, err := e.Service.StepUp(ctx, "u1", []string{"password"}, signin.MFAAttempt{Code: code, Client: "c"})
	if err != nil || !up.MFA {
		t.Fatalf("StepUp: %+v, %v", up, err)
	}
	if _, err := e.Service.BeginTOTP(ctx, "u1"); !errors.Is(err, signin.ErrAlreadyEnrolled) {
		t.Fatalf("re-enrol: %v", err)
	}
	if err := e.Service.ResetMFA(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if r, err := e.Service.SignIn(ctx, attempt(good)); err != nil || r.MFARequired {
		t.Fatalf("after reset: %+v, %v", r, err)
	}
}

// A wrong code counts towards the account lock, like a wrong password.
func TestWrongCodesLock(t *testing.T) {
	e := newEnv(t, signin.WithLockout(signin.Lockout{AccountLimit: 3, ClientLimit: 100}))
	ctx := context.Background()
	e.Enrol(t, "u1")
	a := attempt(good)
	a.Code = "000000"
	for range 3 {
		if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrInvalidCode) {
			// one in a million: 000000 is the right code
			t.Fatalf("wrong code: %v", err)
		}
	}
	if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrLocked) {
		t.Fatalf("after 3 wrong codes: %v", err)
	}
	if e.Events.Count("mfa.failed", "wrong") != 3 || e.Events.Count("account.locked", "") != 1 {
		t.Fatalf("events: %d mfa.failed, %d account.locked", e.Events.Count("mfa.failed", "wrong"), e.Events.Count("account.locked", ""))
	}
}

func TestRehashOnSignIn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Store a hash made with weaker parameters than the service's.
	weak := "$argon2id$v=19$m=8192,t=1,p=1$"
	h, _ := e.Store.PasswordHash(ctx, "u1")
	if !strings.HasPrefix(h, weak) {
		t.Fatalf("setup: %s", h)
	}
	// The env's hasher is the weak one; a service with the OWASP
	// default rehashes on sign-in.
	svc, err := signin.New(e.Store, mustSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SignIn(ctx, attempt(good)); err != nil {
		t.Fatal(err)
	}
	h2, _ := e.Store.PasswordHash(ctx, "u1")
	if !strings.HasPrefix(h2, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("not rehashed: %s", h2)
	}
	if _, err := svc.SignIn(ctx, attempt(good)); err != nil {
		t.Fatalf("after rehash: %v", err)
	}
}

func TestSetPasswordPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, pw := range []string{"short", "Password2024!", "clerk-is-my-name-ok"} {
		if err := e.Service.SetPassword(ctx, "u1", pw); err == nil {
			t.Errorf("SetPassword(%q) accepted", pw)
		}
	}
	if _, err := e.Service.SignIn(ctx, attempt(good)); err != nil {
		t.Fatalf("a refused SetPassword changed the password: %v", err)
	}
}

func TestCreateUserValidation(t *testing.T) {
	e := newEnv(t)
	for _, u := range []signin.User{
		{ID: "", Email: "a@b.ca"}, {ID: "Upper", Email: "a@b.ca"}, {ID: "x", Email: "not an email"},
		{ID: "x", Email: "x@b.ca", Language: "de"}, {ID: "x", Email: "x@b.ca", Status: "gone"},
		{ID: "x", Email: "x@b.ca", DisplayName: "a\x00b"},
	} {
		if _, err := e.Service.CreateUser(context.Background(), u); !errors.Is(err, signin.ErrInvalidInput) {
			t.Errorf("CreateUser(%+v) = %v", u, err)
		}
	}
}

// A client that keeps failing is locked for longer each time, and the
// lock ends by itself.
func TestClientLockGrows(t *testing.T) {
	e := newEnv(t, signin.WithLockout(signin.Lockout{ClientLimit: 3, AccountLimit: 100, BaseDelay: time.Minute, Window: time.Hour}))
	ctx := context.Background()
	for round, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute} {
		for i := range 3 {
			if _, err := e.Service.SignIn(ctx, attempt("wrong")); !errors.Is(err, signin.ErrInvalidCredentials) {
				t.Fatalf("round %d attempt %d: %v", round, i, err)
			}
		}
		_, err := e.Service.SignIn(ctx, attempt(good))
		var le *signin.LockedError
		if !errors.As(err, &le) || le.Scope != "client" {
			t.Fatalf("round %d: %v, want a client lock", round, err)
		}
		if d := le.Until.Sub(e.Clock.Now()); d != want {
			t.Fatalf("round %d: locked for %v, want %v", round, d, want)
		}
		e.Clock.Advance(want)
	}
	if _, err := e.Service.SignIn(ctx, attempt(good)); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
}

// A whole quiet window forgives: the next lock is the first length again,
// and PruneCounters may then drop the counter without changing any outcome.
func TestQuietWindowForgivesAndPrunes(t *testing.T) {
	e := newEnv(t, signin.WithLockout(signin.Lockout{AccountLimit: 2, ClientLimit: 100, BaseDelay: time.Minute, Window: 10 * time.Minute}))
	ctx := context.Background()
	lock := func() time.Duration {
		t.Helper()
		for range 2 {
			_, _ = e.Service.SignIn(ctx, attempt("wrong"))
		}
		_, err := e.Service.SignIn(ctx, attempt("wrong"))
		var le *signin.LockedError
		if !errors.As(err, &le) {
			t.Fatalf("not locked: %v", err)
		}
		return le.Until.Sub(e.Clock.Now())
	}
	if d := lock(); d != time.Minute {
		t.Fatalf("first lock %v", d)
	}
	e.Clock.Advance(time.Minute)
	if d := lock(); d != 2*time.Minute {
		t.Fatalf("second lock %v", d)
	}
	e.Clock.Advance(2*time.Minute + 11*time.Minute)
	if n, err := e.Service.PruneCounters(ctx); err != nil || n < 1 {
		t.Fatalf("PruneCounters = %d, %v", n, err)
	}
	if d := lock(); d != time.Minute {
		t.Fatalf("lock after a quiet window %v, want the first length again", d)
	}
}

type countingStore struct {
	*signin.MemStore
	hashReads, userReads int
}

func (c *countingStore) PasswordHash(ctx context.Context, id string) (string, error) {
	c.hashReads++
	return c.MemStore.PasswordHash(ctx, id)
}

func (c *countingStore) UserByEmail(ctx context.Context, email string) (signin.User, error) {
	c.userReads++
	return c.MemStore.UserByEmail(ctx, email)
}

// A wrong password and an unknown email make the same store reads.
func TestUnknownUserSameStoreCalls(t *testing.T) {
	cs := &countingStore{MemStore: signin.NewMemStore()}
	e := signintest.NewEnv(t, cs)
	e.AddUser(t, "u1", email, good)
	ctx := context.Background()
	calls := func(a signin.Attempt) [2]int {
		cs.hashReads, cs.userReads = 0, 0
		if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrInvalidCredentials) {
			t.Fatalf("%v", err)
		}
		return [2]int{cs.hashReads, cs.userReads}
	}
	known := calls(attempt("wrong password"))
	a := attempt("wrong password")
	a.Email = "nobody@lakeview.ca"
	if unknown := calls(a); unknown != known {
		t.Fatalf("store reads (hash, user): unknown %v, known %v", unknown, known)
	}
}
