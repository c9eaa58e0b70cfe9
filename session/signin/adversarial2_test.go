package signin_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/signin/signintest"
)

var errStoreDown = errors.New("store down")

// flakyCounters fails LoadCounter on account and device keys while down.
type flakyCounters struct {
	*signin.MemStore
	down atomic.Bool
}

func (f *flakyCounters) LoadCounter(ctx context.Context, key string) (signin.Counter, int64, error) {
	if f.down.Load() && !strings.HasPrefix(key, "client:") {
		return signin.Counter{}, 0, errStoreDown
	}
	return f.MemStore.LoadCounter(ctx, key)
}

// An attempt that ends in a store error has no verdict: it releases the
// client's slot (so a flaky store cannot lock clients out), emits no
// failure event, and the store error is returned (errors.Is finds it).
func TestAdversarialStoreErrorReleasesAndEmitsNothing(t *testing.T) {
	ctx := context.Background()
	st := &flakyCounters{MemStore: signin.NewMemStore()}
	e := signintest.NewEnv(t, st, signin.WithLockout(signin.Lockout{ClientLimit: 3, AccountLimit: 10}))
	e.AddUser(t, "u1", email, good)
	secret, _ := e.Enrol(t, "u1")
	e.Clock.Advance(90 * time.Second)
	r, err := e.Service.SignIn(ctx, attempt(good))
	if err != nil || !r.MFARequired {
		t.Fatalf("%+v %v", r, err)
	}
	st.down.Store(true)
	for i := range 10 {
		if _, err := e.Service.SignIn(ctx, attempt(good)); !errors.Is(err, errStoreDown) {
			t.Fatalf("SignIn %d: %v", i, err)
		}
		code, _ := e.TOTP.Code(secret, e.Clock.Now())
		if _, err := e.Service.CompleteMFA(ctx, signin.MFAAttempt{Challenge: r.Challenge, Code: code, Client: "198.51.100.7"}); !errors.Is(err, errStoreDown) {
			t.Fatalf("CompleteMFA %d: %v", i, err)
		}
	}
	if c, _, _ := st.LoadCounter(ctx, "client:198.51.100.7"); c.Failures != 0 {
		t.Fatalf("store errors left %d client reservations", c.Failures)
	}
	for _, ev := range e.Events.Events() {
		if ev.Type == "mfa.failed" || ev.Type == "login.failed" {
			t.Fatalf("store error reported as %s %v", ev.Type, ev.Detail)
		}
	}
	st.down.Store(false)
	code, _ := e.TOTP.Code(secret, e.Clock.Now())
	if _, err := e.Service.CompleteMFA(ctx, signin.MFAAttempt{Challenge: r.Challenge, Code: code, Client: "198.51.100.7"}); err != nil {
		t.Fatalf("after the store recovers: %v", err)
	}
}

// With only the account limit configured, however low, one client still
// cannot lock the account: the default client limit stays below it.
func TestAdversarialDefaultClientLimitBelowAccountLimit(t *testing.T) {
	for _, limit := range []int{2, 3, 5, 6} {
		ctx := context.Background()
		e := newEnv(t, signin.WithLockout(signin.Lockout{AccountLimit: limit}))
		for range 3 * limit {
			_, _ = e.Service.SignIn(ctx, signin.Attempt{Email: email, Password: "wrong password", Client: "attacker"})
		}
		if _, err := e.Service.SignIn(ctx, signin.Attempt{Email: email, Password: good, Client: "owner"}); err != nil {
			t.Errorf("AccountLimit %d: one client locked the account: %v", limit, err)
		}
	}
}
