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

	"github.com/civic-platform/security/session/password"
	"github.com/civic-platform/security/session/secrets"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/totp"
)

// Run runs the suite; newStore returns an empty, ready store per call.
func Run(t *testing.T, newStore func(t testing.TB) signin.Store) {
	t.Run("Users", func(t *testing.T) { testUsers(t, newStore(t)) })
	t.Run("CounterCAS", func(t *testing.T) { testCounterCAS(t, newStore(t)) })
	t.Run("PruneCounters", func(t *testing.T) { testPrune(t, newStore(t)) })
	t.Run("TOTPCAS", func(t *testing.T) { testTOTPCAS(t, newStore(t)) })
	t.Run("RecoveryCodes", func(t *testing.T) { testRecovery(t, newStore(t)) })
	t.Run("PasswordHash", func(t *testing.T) { testPasswordHash(t, newStore(t)) })
	t.Run("ParallelWrongPasswords", func(t *testing.T) { testParallelWrong(t, newStore(t)) })
	t.Run("TOTPReuse", func(t *testing.T) { testTOTPReuse(t, newStore(t)) })
	t.Run("MovedSecret", func(t *testing.T) { testMovedSecret(t, newStore(t)) })
}

// A sealed TOTP secret copied from one user's row to another's does not
// open there: signing in as the second user with the first user's codes
// fails with secrets.ErrDecrypt (not accepted, not a wrong code), and
// leaves the last step and the lockout counters as they were.
func testMovedSecret(t *testing.T, s signin.Store) {
	ctx := context.Background()
	e := NewEnv(t, s)
	e.AddUser(t, "u1", "clerk@lakeview.ca", "correct horse battery staple")
	e.AddUser(t, "u2", "planner@lakeview.ca", "a distinct good passphrase")
	secret1, _ := e.Enrol(t, "u1")
	r1, err := s.TOTP(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutTOTP(ctx, "u2", r1.Sealed); err != nil { // the copy
		t.Fatal(err)
	}
	if ok, err := s.ConfirmTOTP(ctx, "u2", r1.Sealed, 1); !ok || err != nil {
		t.Fatalf("setup: %v %v", ok, err)
	}
	e.Clock.Advance(30 * time.Second)
	code, _ := e.TOTP.Code(secret1, e.Clock.Now())
	_, err = e.Service.SignIn(ctx, signin.Attempt{Email: "planner@lakeview.ca", Password: "a distinct good passphrase", Code: code, Client: "198.51.100.7"})
	if !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("moved secret: err = %v, want secrets.ErrDecrypt", err)
	}
	if r2, _ := s.TOTP(ctx, "u2"); r2.LastStep != 1 {
		t.Fatalf("last step moved to %d", r2.LastStep)
	}
	for _, key := range []string{"login:planner@lakeview.ca", "client:198.51.100.7"} {
		if c, _, _ := s.LoadCounter(ctx, key); c.Failures != 0 {
			t.Fatalf("counter %s holds %d failures", key, c.Failures)
		}
	}
	// The owner's row still works.
	_, err = e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: "correct horse battery staple", Code: code, Client: "198.51.100.7"})
	if err != nil {
		t.Fatalf("owner: %v", err)
	}
}

// Env is a Service over a store with a settable clock, a counting hasher
// and a recording event sink, for tests.
type Env struct {
	Service *signin.Service
	Store   signin.Store
	Clock   *Clock
	Hasher  *CountingHasher
	Events  *Recorder
	TOTP    totp.Config
}

// NewEnv builds an Env. Extra options come after the defaults.
func NewEnv(t testing.TB, store signin.Store, opts ...signin.Option) *Env {
	t.Helper()
	line, err := secrets.GenerateKey("test")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := secrets.ParseKeys(line)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secrets.NewSealer(kp)
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.NewHasher(password.WithParams(password.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}))
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Store: store, Clock: NewClock(time.Unix(1_800_000_000, 0)), Hasher: &CountingHasher{H: h}, Events: &Recorder{}, TOTP: totp.Config{Issuer: "Lakeview"}}
	svc, err := signin.New(store, sealer, append([]signin.Option{
		signin.WithHasher(e.Hasher), signin.WithClock(e.Clock.Now), signin.WithEvents(e.Events),
		signin.WithTOTP(e.TOTP),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.Service = svc
	return e
}

// AddUser creates an active user with a password.
func (e *Env) AddUser(t testing.TB, id, email, pw string) signin.User {
	t.Helper()
	ctx := context.Background()
	u, err := e.Service.CreateUser(ctx, signin.User{ID: id, Email: email, DisplayName: id, EmployeeID: "E-" + id, Department: "clerk"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Service.SetPassword(ctx, id, pw); err != nil {
		t.Fatal(err)
	}
	return u
}

// Enrol enrols and confirms TOTP for a user and returns the secret and
// recovery codes. The confirming code is the one for the clock's step.
func (e *Env) Enrol(t testing.TB, userID string) (string, []string) {
	t.Helper()
	ctx := context.Background()
	en, err := e.Service.BeginTOTP(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := e.TOTP.Code(en.Secret, e.Clock.Now())
	codes, err := e.Service.ConfirmTOTP(ctx, userID, code)
	if err != nil {
		t.Fatal(err)
	}
	return en.Secret, codes
}

// Clock is a settable clock.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { c := &Clock{}; c.ns.Store(t.UnixNano()); return c }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Advance moves the clock.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// CountingHasher counts verifications, real and dummy.
type CountingHasher struct {
	H        *password.Hasher
	Verified atomic.Int64
	Dummies  atomic.Int64
}

// Hash implements signin.PasswordHasher.
func (c *CountingHasher) Hash(ctx context.Context, pw string) (string, error) {
	return c.H.Hash(ctx, pw)
}

// Verify implements signin.PasswordHasher.
func (c *CountingHasher) Verify(ctx context.Context, pw, enc string) (password.Result, error) {
	c.Verified.Add(1)
	return c.H.Verify(ctx, pw, enc)
}

// VerifyDummy implements signin.PasswordHasher.
func (c *CountingHasher) VerifyDummy(ctx context.Context, pw string) error {
	c.Dummies.Add(1)
	return c.H.VerifyDummy(ctx, pw)
}

// Recorder records events.
type Recorder struct {
	mu     sync.Mutex
	events []signin.Event
}

// Record implements signin.EventSink.
func (r *Recorder) Record(_ context.Context, e signin.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

// Count returns how many events of type typ (and, if reason is not
// empty, detail reason) were recorded.
func (r *Recorder) Count(typ, reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == typ && (reason == "" || e.Detail["reason"] == reason) {
			n++
		}
	}
	return n
}

// Events returns a copy of the recorded events.
func (r *Recorder) Events() []signin.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]signin.Event(nil), r.events...)
}

func testUsers(t *testing.T, s signin.Store) {
	ctx := context.Background()
	u := signin.User{ID: "jtremblay", EmployeeID: "E1042", Email: "j.tremblay@lakeview.ca", DisplayName: "Julie Tremblay", Language: "fr", Department: "building", Status: signin.StatusActive, Created: time.Unix(1_800_000_000, 0)}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := s.UserByEmail(ctx, u.Email)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.EmployeeID != u.EmployeeID || got.DisplayName != u.DisplayName || got.Language != "fr" || got.Department != "building" || got.Status != signin.StatusActive || !got.Created.Equal(u.Created) {
		t.Fatalf("UserByEmail = %+v, want %+v", got, u)
	}
	for _, dup := range []signin.User{
		{ID: "jtremblay", Email: "other@lakeview.ca", Language: "en", Status: signin.StatusActive},
		{ID: "other", Email: u.Email, Language: "en", Status: signin.StatusActive},
		{ID: "other", EmployeeID: "E1042", Email: "other@lakeview.ca", Language: "en", Status: signin.StatusActive},
	} {
		if err := s.CreateUser(ctx, dup); !errors.Is(err, signin.ErrExists) {
			t.Errorf("CreateUser(%+v) err = %v, want ErrExists", dup, err)
		}
	}
	// Two users without an employee id do not collide.
	for _, id := range []string{"a1", "a2"} {
		if err := s.CreateUser(ctx, signin.User{ID: id, Email: id + "@lakeview.ca", Language: "en", Status: signin.StatusActive}); err != nil {
			t.Fatalf("user without employee id: %v", err)
		}
	}
	u.Status = signin.StatusSuspended
	u.Email = "julie.tremblay@lakeview.ca"
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got, err := s.User(ctx, u.ID); err != nil || got.Status != signin.StatusSuspended || got.Email != u.Email {
		t.Fatalf("after update: %+v, %v", got, err)
	}
	if _, err := s.UserByEmail(ctx, "j.tremblay@lakeview.ca"); !errors.Is(err, signin.ErrNotFound) {
		t.Fatalf("old email still found: %v", err)
	}
	if err := s.UpdateUser(ctx, signin.User{ID: "nobody", Email: "n@x.ca", Language: "en", Status: signin.StatusActive}); !errors.Is(err, signin.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	if err := s.UpdateUser(ctx, signin.User{ID: "a1", Email: u.Email, Language: "en", Status: signin.StatusActive}); !errors.Is(err, signin.ErrExists) {
		t.Fatalf("update to taken email: %v", err)
	}
	if _, err := s.User(ctx, "nobody"); !errors.Is(err, signin.ErrNotFound) {
		t.Fatalf("User(missing) = %v", err)
	}
}

// 50 goroutines each add one by compare-and-set: the counter ends at 50.
func testCounterCAS(t *testing.T, s signin.Store) {
	ctx := context.Background()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			for {
				c, v, err := s.LoadCounter(ctx, "k")
				if err != nil {
					errs <- err
					return
				}
				c.Failures++
				c.WindowStart = time.Unix(1_800_000_000, 123000)
				ok, err := s.SaveCounter(ctx, "k", c, v)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c, v, err := s.LoadCounter(ctx, "k")
	if err != nil || c.Failures != n || v != n || !c.WindowStart.Equal(time.Unix(1_800_000_000, 123000)) {
		t.Fatalf("counter = %+v v%d, %v; want %d failures at version %d", c, v, err, n, n)
	}
	if ok, _ := s.SaveCounter(ctx, "k", signin.Counter{}, v-1); ok {
		t.Fatal("SaveCounter with a stale version succeeded")
	}
	if err := s.DeleteCounter(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if c, v, _ := s.LoadCounter(ctx, "k"); c != (signin.Counter{}) || v != 0 {
		t.Fatalf("after delete: %+v v%d", c, v)
	}
}

func mkUser(t testing.TB, s signin.Store, id string) {
	t.Helper()
	if err := s.CreateUser(context.Background(), signin.User{ID: id, Email: id + "@lakeview.ca", Language: "en", Status: signin.StatusActive}); err != nil {
		t.Fatal(err)
	}
}

func testTOTPCAS(t *testing.T, s signin.Store) {
	ctx := context.Background()
	mkUser(t, s, "u1")
	if _, err := s.TOTP(ctx, "u1"); !errors.Is(err, signin.ErrNotFound) {
		t.Fatalf("TOTP before enrolment: %v", err)
	}
	if ok, _ := s.AdvanceTOTP(ctx, "u1", 5); ok {
		t.Fatal("AdvanceTOTP without enrolment succeeded")
	}
	if err := s.PutTOTP(ctx, "u1", "sealed-1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.AdvanceTOTP(ctx, "u1", 5); ok {
		t.Fatal("AdvanceTOTP on an unconfirmed enrolment succeeded")
	}
	if ok, _ := s.ConfirmTOTP(ctx, "u1", "sealed-other", 10); ok {
		t.Fatal("ConfirmTOTP with another secret succeeded")
	}
	// Parallel confirmations: one wins.
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if ok, err := s.ConfirmTOTP(ctx, "u1", "sealed-1", 10); err == nil && ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d confirmations won, want 1", wins.Load())
	}
	if err := s.PutTOTP(ctx, "u1", "sealed-2"); !errors.Is(err, signin.ErrAlreadyEnrolled) {
		t.Fatalf("PutTOTP over a confirmed enrolment: %v", err)
	}
	if r, _ := s.TOTP(ctx, "u1"); r.Sealed != "sealed-1" || !r.Confirmed || r.LastStep != 10 {
		t.Fatalf("record %+v", r)
	}
	for _, step := range []int64{9, 10} {
		if ok, _ := s.AdvanceTOTP(ctx, "u1", step); ok {
			t.Fatalf("AdvanceTOTP to %d after 10 succeeded", step)
		}
	}
	wins.Store(0)
	for range 30 {
		wg.Go(func() {
			if ok, err := s.AdvanceTOTP(ctx, "u1", 11); err == nil && ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d parallel advances to one step won, want 1", wins.Load())
	}
	if err := s.DeleteTOTP(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TOTP(ctx, "u1"); !errors.Is(err, signin.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func testRecovery(t *testing.T, s signin.Store) {
	ctx := context.Background()
	mkUser(t, s, "u1")
	mkUser(t, s, "u2")
	hashes := make([]string, 10)
	for i := range hashes {
		hashes[i] = fmt.Sprintf("%064x", i)
	}
	if err := s.ReplaceRecoveryCodes(ctx, "u1", hashes); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.RecoveryCodesLeft(ctx, "u1"); n != 10 {
		t.Fatalf("left = %d", n)
	}
	if ok, _ := s.UseRecoveryCode(ctx, "u2", hashes[0], time.Now()); ok {
		t.Fatal("another user's code worked")
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if ok, err := s.UseRecoveryCode(ctx, "u1", hashes[3], time.Now()); err == nil && ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("code used %d times, want 1", wins.Load())
	}
	if n, _ := s.RecoveryCodesLeft(ctx, "u1"); n != 9 {
		t.Fatalf("left = %d, want 9", n)
	}
	if err := s.ReplaceRecoveryCodes(ctx, "u1", hashes[5:7]); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.UseRecoveryCode(ctx, "u1", hashes[0], time.Now()); ok {
		t.Fatal("a replaced code still works")
	}
	if n, _ := s.RecoveryCodesLeft(ctx, "u1"); n != 2 {
		t.Fatalf("left = %d, want 2", n)
	}
}

func testPasswordHash(t *testing.T, s signin.Store) {
	ctx := context.Background()
	mkUser(t, s, "u1")
	if _, err := s.PasswordHash(ctx, "u1"); !errors.Is(err, signin.ErrNotFound) {
		t.Fatalf("no hash yet: %v", err)
	}
	if err := s.SetPasswordHash(ctx, "u1", "h1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, "u1", "h2"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.ReplacePasswordHash(ctx, "u1", "h1", "h3"); ok {
		t.Fatal("replace with a stale previous hash succeeded")
	}
	if ok, err := s.ReplacePasswordHash(ctx, "u1", "h2", "h3"); !ok || err != nil {
		t.Fatalf("replace: %v %v", ok, err)
	}
	if h, _ := s.PasswordHash(ctx, "u1"); h != "h3" {
		t.Fatalf("hash = %q", h)
	}
}

// 50 parallel wrong attempts on one account from 50 clients: exactly
// AccountLimit reach a password verification, the rest are refused as
// locked, the account locks once, and the counter holds exactly the limit.
func testParallelWrong(t *testing.T, s signin.Store) {
	const limit = 5
	e := NewEnv(t, s, signin.WithLockout(signin.Lockout{AccountLimit: limit, ClientLimit: 3}))
	e.AddUser(t, "u1", "clerk@lakeview.ca", "correct horse battery staple")
	ctx := context.Background()
	var locked, invalid atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, err := e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: "wrong password " + fmt.Sprint(i), Client: fmt.Sprintf("198.51.100.%d", i)})
			switch {
			case errors.Is(err, signin.ErrLocked):
				locked.Add(1)
			case errors.Is(err, signin.ErrInvalidCredentials):
				invalid.Add(1)
			default:
				t.Errorf("attempt %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if invalid.Load() != limit || locked.Load() != 50-limit {
		t.Fatalf("invalid %d, locked %d; want %d and %d", invalid.Load(), locked.Load(), limit, 50-limit)
	}
	if n := e.Hasher.Verified.Load(); n != limit {
		t.Fatalf("%d verifications ran, want exactly %d", n, limit)
	}
	if n := e.Events.Count("account.locked", ""); n != 1 {
		t.Fatalf("%d account.locked events, want 1", n)
	}
	if n := e.Events.Count("login.failed", "bad_password"); n != limit {
		t.Fatalf("%d bad_password events, want %d", n, limit)
	}
	c, _, _ := s.LoadCounter(ctx, "login:clerk@lakeview.ca")
	if c.Failures != limit || c.LockedUntil.IsZero() {
		t.Fatalf("counter %+v, want %d failures and a lock", c, limit)
	}
	// The right password is refused while locked, without verifying.
	before := e.Hasher.Verified.Load()
	if _, err := e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: "correct horse battery staple", Client: "203.0.113.1"}); !errors.Is(err, signin.ErrLocked) {
		t.Fatalf("right password while locked: %v", err)
	}
	if e.Hasher.Verified.Load() != before {
		t.Fatal("a locked account's password was verified")
	}
	// The lock runs out by itself.
	e.Clock.Advance(2 * time.Minute)
	if _, err := e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: "correct horse battery staple", Client: "203.0.113.1"}); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	// And one client alone hits its own limit first.
	for i := range 10 {
		_, err := e.Service.SignIn(ctx, signin.Attempt{Email: "clerk@lakeview.ca", Password: "wrong", Client: "192.0.2.9"})
		want := signin.ErrInvalidCredentials
		if i >= 3 {
			want = signin.ErrLocked
		}
		if !errors.Is(err, want) {
			t.Fatalf("single client attempt %d: %v, want %v", i, err, want)
		}
		var le *signin.LockedError
		if i >= 3 && (!errors.As(err, &le) || le.Scope != "client") {
			t.Fatalf("single client attempt %d: %v, want a client lock", i, err)
		}
	}
	if c, _, _ := s.LoadCounter(ctx, "login:clerk@lakeview.ca"); !c.LockedUntil.IsZero() {
		t.Fatal("one client locked the account")
	}
}

// A TOTP code signs in once: not twice in a row, not an older code from
// the skew window after a newer one, not twice in parallel.
func testTOTPReuse(t *testing.T, s signin.Store) {
	e := NewEnv(t, s, signin.WithLockout(signin.Lockout{AccountLimit: 100, ClientLimit: 100}))
	e.AddUser(t, "u1", "clerk@lakeview.ca", "correct horse battery staple")
	ctx := context.Background()
	secret, _ := e.Enrol(t, "u1")
	a := signin.Attempt{Email: "clerk@lakeview.ca", Password: "correct horse battery staple", Client: "198.51.100.1"}

	// The confirming code does not sign in.
	a.Code, _ = e.TOTP.Code(secret, e.Clock.Now())
	if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrInvalidCode) {
		t.Fatalf("confirming code reused: %v", err)
	}
	e.Clock.Advance(30 * time.Second)
	a.Code, _ = e.TOTP.Code(secret, e.Clock.Now())
	r, err := e.Service.SignIn(ctx, a)
	if err != nil || !r.MFA || strings.Join(r.Methods, ",") != "password,totp" {
		t.Fatalf("first use: %+v, %v", r, err)
	}
	if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrInvalidCode) {
		t.Fatalf("sequential reuse: %v", err)
	}
	// An older code from the window after a newer one.
	e.Clock.Advance(30 * time.Second)
	older := a.Code
	a.Code, _ = e.TOTP.Code(secret, e.Clock.Now())
	if _, err := e.Service.SignIn(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.Code = older
	if _, err := e.Service.SignIn(ctx, a); !errors.Is(err, signin.ErrInvalidCode) {
		t.Fatalf("older code in window: %v", err)
	}
	if e.Events.Count("mfa.failed", "reused") < 2 {
		t.Fatalf("mfa.failed reused events: %d", e.Events.Count("mfa.failed", "reused"))
	}
	// Parallel: one of 20 wins.
	e.Clock.Advance(30 * time.Second)
	a.Code, _ = e.TOTP.Code(secret, e.Clock.Now())
	var wins, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			b := a
			b.Client = fmt.Sprintf("198.51.100.%d", 10+i)
			_, err := e.Service.SignIn(ctx, b)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, signin.ErrInvalidCode):
				refused.Add(1)
			default:
				t.Errorf("parallel: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || refused.Load() != 19 {
		t.Fatalf("parallel: %d won, %d refused; want 1 and 19", wins.Load(), refused.Load())
	}
}

func testPrune(t *testing.T, s signin.Store) {
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	for key, c := range map[string]signin.Counter{
		"old":          {Failures: 3, WindowStart: t0.Add(-2 * time.Hour)},
		"old-locked":   {Failures: 10, WindowStart: t0.Add(-2 * time.Hour), LockedUntil: t0.Add(-90 * time.Minute), Level: 2},
		"still-locked": {Failures: 10, WindowStart: t0.Add(-2 * time.Hour), LockedUntil: t0.Add(time.Minute), Level: 3},
		"recent":       {Failures: 1, WindowStart: t0.Add(-time.Minute)},
	} {
		if ok, err := s.SaveCounter(ctx, key, c, 0); !ok || err != nil {
			t.Fatalf("save %s: %v %v", key, ok, err)
		}
	}
	n, err := s.PruneCounters(ctx, t0.Add(-time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneCounters = %d, %v; want 2", n, err)
	}
	for key, want := range map[string]bool{"old": false, "old-locked": false, "still-locked": true, "recent": true} {
		_, v, _ := s.LoadCounter(ctx, key)
		if (v != 0) != want {
			t.Errorf("%s kept = %t, want %t", key, v != 0, want)
		}
	}
}
