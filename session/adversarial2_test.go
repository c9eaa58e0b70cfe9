package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/civic-platform/security/session"
)

// TestClaimVariants: claims of unusual JSON types or values, under a good
// signature.
func TestClaimVariants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, session.WithLeeway(5*time.Second))
	s, _ := e.signIn(t, "user:alice")
	priv := privateOf(e.key)
	kid := map[string]any{"kid": "k1"}
	with := func(f func(c jwt.MapClaims)) string {
		c := goodClaims(s)
		f(c)
		return forge(t, jwt.SigningMethodES256, priv, kid, c)
	}
	now := noon.Unix()
	refused := map[string]struct {
		tok  string
		want error
	}{
		"exp string":               {with(func(c jwt.MapClaims) { c["exp"] = "4102444800" }), session.ErrMalformed},
		"exp huge":                 {with(func(c jwt.MapClaims) { c["exp"] = 1e300 }), session.ErrInvalidToken},
		"exp negative":             {with(func(c jwt.MapClaims) { c["exp"] = -1 }), session.ErrExpired},
		"exp zero":                 {with(func(c jwt.MapClaims) { c["exp"] = 0 }), session.ErrExpired},
		"exp null":                 {with(func(c jwt.MapClaims) { c["exp"] = nil }), session.ErrClaims},
		"exp bool":                 {with(func(c jwt.MapClaims) { c["exp"] = true }), session.ErrMalformed},
		"exp beyond leeway":        {with(func(c jwt.MapClaims) { c["exp"] = now - 6 }), session.ErrExpired},
		"nbf beyond leeway":        {with(func(c jwt.MapClaims) { c["nbf"] = now + 6 }), session.ErrNotYetValid},
		"iat beyond leeway":        {with(func(c jwt.MapClaims) { c["iat"] = now + 6 }), session.ErrNotYetValid},
		"nbf huge":                 {with(func(c jwt.MapClaims) { c["nbf"] = 1e300 }), session.ErrInvalidToken},
		"iat string":               {with(func(c jwt.MapClaims) { c["iat"] = "1" }), session.ErrMalformed},
		"aud empty array":          {with(func(c jwt.MapClaims) { c["aud"] = []string{} }), session.ErrClaims},
		"aud empty string":         {with(func(c jwt.MapClaims) { c["aud"] = "" }), session.ErrClaims},
		"aud case":                 {with(func(c jwt.MapClaims) { c["aud"] = "Permits" }), session.ErrClaims},
		"aud number":               {with(func(c jwt.MapClaims) { c["aud"] = 1 }), session.ErrInvalidToken},
		"iss trailing slash":       {with(func(c jwt.MapClaims) { c["iss"] = "city-iam/" }), session.ErrClaims},
		"iss trailing space":       {with(func(c jwt.MapClaims) { c["iss"] = "city-iam " }), session.ErrClaims},
		"iss array":                {with(func(c jwt.MapClaims) { c["iss"] = []string{"city-iam"} }), session.ErrInvalidToken},
		"sub of another, same sid": {with(func(c jwt.MapClaims) { c["sub"] = "user:bob" }), session.ErrNoSession},
		"sid empty":                {with(func(c jwt.MapClaims) { c["sid"] = "" }), session.ErrClaims},
		"sid number":               {with(func(c jwt.MapClaims) { c["sid"] = 7 }), session.ErrInvalidToken},
		"sid glob":                 {with(func(c jwt.MapClaims) { c["sid"] = "*" }), session.ErrNoSession},
	}
	for name, tt := range refused {
		if _, err := e.m.Verify(ctx, tt.tok); !errors.Is(err, tt.want) || !errors.Is(err, session.ErrInvalidToken) {
			t.Errorf("%s: Verify = %v, want %v", name, err, tt.want)
		}
	}
	accepted := map[string]string{
		"exp float":         with(func(c jwt.MapClaims) { c["exp"] = float64(s.Expires.Unix()) + 0.5 }),
		"nbf exactly now":   with(func(c jwt.MapClaims) { c["nbf"] = now }),
		"nbf within leeway": with(func(c jwt.MapClaims) { c["nbf"] = now + 5 }),
		"iat within leeway": with(func(c jwt.MapClaims) { c["iat"] = now + 5 }),
		"aud array of ours": with(func(c jwt.MapClaims) { c["aud"] = []string{"permits"} }),
		"extra claim":       with(func(c jwt.MapClaims) { c["role"] = "admin" }),
	}
	for name, tok := range accepted {
		if _, err := e.m.Verify(ctx, tok); err != nil {
			t.Errorf("%s: Verify = %v, want accepted", name, err)
		}
	}
	// exp within leeway: accepted until the leeway runs out, then refused.
	e.clk.Advance(s.Expires.Sub(noon) - time.Second)
	short := with(func(c jwt.MapClaims) { c["exp"] = now })
	if _, err := e.m.Verify(ctx, short); !errors.Is(err, session.ErrExpired) {
		t.Errorf("exp long past: %v", err)
	}
}

// TestLeewayBoundaries: with leeway L, exp is honoured until exp+L
// (exclusive) and nbf from nbf-L (inclusive).
func TestLeewayBoundaries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, leeway := range []time.Duration{0, time.Second, 30 * time.Second} {
		e := newEnv(t, session.WithLeeway(leeway), session.WithAbsoluteLifetime(48*time.Hour), session.WithIdleTimeout(0))
		s, _ := e.signIn(t, "user:alice")
		priv := privateOf(e.key)
		exp := noon.Add(time.Hour)
		c := goodClaims(s)
		c["exp"] = exp.Unix()
		tok := forge(t, jwt.SigningMethodES256, priv, map[string]any{"kid": "k1"}, c)
		e.clk.Advance(time.Hour + leeway - time.Nanosecond)
		if _, err := e.m.Verify(ctx, tok); err != nil {
			t.Errorf("leeway %s: just before exp+leeway: %v", leeway, err)
		}
		e.clk.Advance(time.Nanosecond)
		if _, err := e.m.Verify(ctx, tok); !errors.Is(err, session.ErrExpired) {
			t.Errorf("leeway %s: at exp+leeway: %v", leeway, err)
		}
	}
}

// TestOtherManagerSameKey: a token issued by a Manager with another
// issuer or audience is refused by this one even though they share the
// key and the store.
func TestOtherManagerSameKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := session.NewMemoryStore()
	key, _ := session.GenerateKey(session.EdDSA, "k1")
	keys, _ := session.NewKeyring(key)
	mk := func(iss, aud string) *session.Manager {
		m, err := session.New(store, keys, session.WithIssuer(iss), session.WithAudience(aud), session.WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	ours := mk("city-iam", "permits")
	for _, other := range []*session.Manager{mk("city-iam", "crm"), mk("other-iam", "permits"), mk("city-iam/", "permits")} {
		_, tok, err := other.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := ours.Verify(ctx, tok); !errors.Is(err, session.ErrClaims) {
			t.Errorf("a token of another issuer/audience: %v", err)
		}
	}
}

// TestRetiredKeyResigned: a token re-signed with a retired key, with its
// sub or sid changed, is refused, cached or not.
func TestRetiredKeyResigned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	alice, atok := e.signIn(t, "user:alice")
	bob, _ := e.signIn(t, "user:bob")
	if _, err := e.m.Verify(ctx, atok); err != nil {
		t.Fatal(err)
	}
	next, _ := session.GenerateKey(session.ES256, "k2")
	if err := e.keys.Rotate(next, noon.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	if _, err := e.m.Verify(ctx, atok); !errors.Is(err, session.ErrUnknownKey) {
		t.Fatalf("cached token of a retired key: %v", err)
	}
	c := goodClaims(alice)
	c["sid"] = bob.ID
	c["sub"] = bob.Subject
	tok := forge(t, jwt.SigningMethodES256, privateOf(e.key), map[string]any{"kid": "k1"}, c)
	if _, err := e.m.Verify(ctx, tok); !errors.Is(err, session.ErrUnknownKey) {
		t.Fatalf("re-signed by the retired key: %v", err)
	}
	// Retiring a verify key (not the signer) at once refuses its cached
	// tokens too.
	k3, _ := session.GenerateKey(session.ES256, "k3")
	if err := e.keys.Rotate(k3, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, t3 := e.signIn(t, "user:carol")
	k4, _ := session.GenerateKey(session.ES256, "k4")
	if err := e.keys.Rotate(k4, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Verify(ctx, t3); err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Retire("k3", e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Verify(ctx, t3); !errors.Is(err, session.ErrUnknownKey) {
		t.Fatalf("retired now: %v", err)
	}
}

// TestCachedSessionEnds: a token verified (and cached) in this Manager and
// in another sharing the store is refused by both at once after each way a
// session ends.
func TestCachedSessionEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ways := map[string]func(e *env, other *session.Manager, s session.Session, tok string) error{
		"logout here": func(e *env, _ *session.Manager, _ session.Session, tok string) error { return e.m.Logout(ctx, tok) },
		"logout there": func(_ *env, o *session.Manager, _ session.Session, tok string) error {
			return o.Logout(ctx, tok)
		},
		"revoke here":  func(e *env, _ *session.Manager, s session.Session, _ string) error { return e.m.Revoke(ctx, s.ID) },
		"revoke there": func(_ *env, o *session.Manager, s session.Session, _ string) error { return o.Revoke(ctx, s.ID) },
		"everywhere here": func(e *env, _ *session.Manager, s session.Session, _ string) error {
			_, err := e.m.LogoutEverywhere(ctx, s.Subject)
			return err
		},
		"everywhere there": func(_ *env, o *session.Manager, s session.Session, _ string) error {
			_, err := o.LogoutEverywhere(ctx, s.Subject)
			return err
		},
		"record deleted": func(e *env, _ *session.Manager, s session.Session, _ string) error {
			_, err := e.store.Delete(ctx, s.ID)
			return err
		},
		"store flushed": func(e *env, _ *session.Manager, _ session.Session, _ string) error {
			e.store.Clear()
			return nil
		},
		"idle": func(e *env, _ *session.Manager, _ session.Session, _ string) error {
			e.clk.Advance(30 * time.Minute)
			return nil
		},
		"absolute": func(e *env, o *session.Manager, _ session.Session, tok string) error {
			for range 26 {
				e.clk.Advance(29 * time.Minute)
				if _, err := e.m.Refresh(ctx, tok); err != nil {
					return nil
				}
			}
			return nil
		},
	}
	for name, end := range ways {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			other, err := session.New(e.store, e.keys, session.WithClock(e.clk.Now), session.WithLogger(quiet),
				session.WithIssuer("city-iam"), session.WithAudience("permits"), session.WithMaxStaleness(24*time.Hour),
				session.WithEpochs(sharedEpochs(e)))
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			waitHealthy(t, other)
			s, tok := e.signIn(t, "user:alice")
			for range 2 {
				for _, m := range []*session.Manager{e.m, other} {
					if _, err := m.Verify(ctx, tok); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := end(e, other, s, tok); err != nil {
				t.Fatal(err)
			}
			for i, m := range []*session.Manager{e.m, other} {
				if _, err := m.Verify(ctx, tok); !errors.Is(err, session.ErrInvalidToken) {
					t.Errorf("manager %d after %s: %v", i, name, err)
				}
				if _, err := m.Refresh(ctx, tok); !errors.Is(err, session.ErrInvalidToken) {
					t.Errorf("manager %d refresh after %s: %v", i, name, err)
				}
				if l, _ := m.List(ctx, "user:alice"); len(l) != 0 {
					t.Errorf("manager %d list after %s: %d", i, name, len(l))
				}
			}
		})
	}
}

// sharedEpochs: the env's Manager uses its default memory epochs, which a
// second Manager cannot see; the tests that need sharing make their own.
func sharedEpochs(e *env) session.EpochStore { return session.NewMemoryEpochs() }

// TestRevokeUnknown: revoking an unknown id is a typed error and changes
// nothing.
func TestRevokeUnknown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s, tok := e.signIn(t, "user:alice")
	before := len(e.rec.events())
	for _, id := range []string{"", "nope", strings.Repeat("a", 32), "*", s.ID + " ", strings.ToUpper(s.ID), s.ID[:31], strings.Repeat("x", 1<<16)} {
		if err := e.m.Revoke(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Revoke(%.40q) = %v", id, err)
		}
	}
	if n := len(e.rec.events()); n != before {
		t.Errorf("%d events from failed revocations", n-before)
	}
	if _, err := e.m.Verify(ctx, tok); err != nil {
		t.Fatalf("the session after: %v", err)
	}
	if err := e.m.Revoke(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Revoke(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("second Revoke = %v", err)
	}
}

// TestEventsNeverCarryTheToken: no event, in any field, holds a token or
// a part of its signature; every session.ended has a reason.
func TestEventsNeverCarryTheToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	var toks []string
	_, pre, err := e.m.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword, MFA: session.MFAPending})
	if err != nil {
		t.Fatal(err)
	}
	toks = append(toks, pre)
	_, post, err := e.m.CompleteMFA(ctx, pre, session.MethodTOTP)
	if err != nil {
		t.Fatal(err)
	}
	toks = append(toks, post)
	_, a := e.signIn(t, "user:alice")
	toks = append(toks, a)
	if err := e.m.Logout(ctx, a); err != nil {
		t.Fatal(err)
	}
	s, b := e.signIn(t, "user:alice")
	toks = append(toks, b)
	if err := e.m.Revoke(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	_, c := e.signIn(t, "user:alice")
	toks = append(toks, c)
	if _, err := e.m.LogoutEverywhere(ctx, "user:alice"); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, ev := range e.rec.events() {
		all := ev.Type + " " + string(ev.Subject)
		for k, v := range ev.Detail {
			all += " " + k + "=" + v
		}
		for _, tok := range toks {
			for _, part := range strings.Split(tok, ".") {
				if len(part) > 8 && strings.Contains(all, part) {
					t.Errorf("event %s holds a token segment", ev.Type)
				}
			}
		}
		switch ev.Type {
		case session.EventEnded:
			if ev.Detail["reason"] == "" || ev.Detail["session"] == "" {
				t.Errorf("session.ended without reason or session: %v", ev.Detail)
			}
			reasons[ev.Detail["reason"]]++
		case session.EventStarted:
		default:
			t.Errorf("unexpected event %s", ev.Type)
		}
	}
	for _, r := range []string{session.ReasonLogout, session.ReasonRevoked, session.ReasonMFACompleted, session.ReasonLogoutEverywhere} {
		if reasons[r] == 0 {
			t.Errorf("no session.ended with reason %s: %v", r, reasons)
		}
	}
}

// TestFixation: every sign-in and every MFA completion makes a new id,
// and the previous token stops working.
func TestFixation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	seen := map[string]bool{}
	for range 20 {
		s, _ := e.signIn(t, "user:alice")
		if seen[s.ID] || len(s.ID) < 32 {
			t.Fatalf("id %q reused or short", s.ID)
		}
		seen[s.ID] = true
	}
	pre, ptok, err := e.m.Create(ctx, session.Start{Subject: "user:bob", Method: session.MethodPassword, MFA: session.MFAPending})
	if err != nil {
		t.Fatal(err)
	}
	post, _, err := e.m.CompleteMFA(ctx, ptok, session.MethodTOTP)
	if err != nil {
		t.Fatal(err)
	}
	if post.ID == pre.ID || seen[post.ID] {
		t.Fatal("MFA kept the id")
	}
	if _, err := e.m.Verify(ctx, ptok); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("pre-MFA token after MFA: %v", err)
	}
	if err := e.m.Revoke(ctx, pre.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("pre-MFA id still known: %v", err)
	}
}

// silent is a store whose feed, like Redis's, keeps running while the
// store is unreachable: it reports Down instead of Alive, and its reads
// fail. Changes are delivered under f.mu, so once set(true) returns no
// confirmation reaches the Manager until set(false).
type silent struct{ failing }

func (f *silent) Watch(ctx context.Context, interval time.Duration, changed func(session.Change)) error {
	return f.Store.Watch(ctx, interval, func(c session.Change) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if c.Alive && f.down {
			changed(session.Change{Down: errDown})
			return
		}
		changed(c)
	})
}

// waitDown waits until Health reports the store unreachable with its
// error: the feed reports Down at its next interval, which a loaded
// machine may deliver late.
func waitDown(t testing.TB, m *session.Manager) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for h := m.Health(); h.Connected || h.Err == nil; h = m.Health() {
		if time.Now().After(deadline) {
			t.Fatalf("Health while the store is down: %+v", h)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestUnreachableStoreFrozenClock: the staleness bound is real time. A
// Manager whose injected clock does not move (a test clock, a clock that
// is stepped back) still stops serving its cache once the store has not
// confirmed for the bound, and Health says so.
func TestUnreachableStoreFrozenClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := &silent{failing: failing{Store: session.NewMemoryStore()}}
	key, _ := session.GenerateKey(session.EdDSA, "k1")
	keys, _ := session.NewKeyring(key)
	clk := newClock()
	const bound = 200 * time.Millisecond
	m, err := session.New(f, keys, session.WithMaxStaleness(bound), session.WithClock(clk.Now), session.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	waitHealthy(t, m)
	_, tok, err := m.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	f.set(true)
	time.Sleep(bound + 100*time.Millisecond)
	if _, err := m.Verify(ctx, tok); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("cached session served past the bound while the store is down: %v", err)
	}
	if h := m.Health(); h.Connected {
		t.Errorf("Health past the bound: %+v", h)
	}
	waitDown(t, m)
	f.set(false)
	waitHealthy(t, m)
	if _, err := m.Verify(ctx, tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

// TestSubjectMustBeStorable: a subject is valid UTF-8 without control
// characters (C0, DEL or C1), so that every store (PostgreSQL text
// included) can hold it; anything else is ErrInvalidInput for Create and
// LogoutEverywhere, and leaves nothing behind.
func TestSubjectMustBeStorable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	for _, sub := range []string{"user:\xff", "user:a\xc3", "user:\xed\xa0\x80", "user:a\u0085b", "user:a\u009fb", "user:a\x7fb", "user:\tx"} {
		if _, _, err := e.m.Create(ctx, session.Start{Subject: sub, Method: session.MethodPassword}); !errors.Is(err, session.ErrInvalidInput) {
			t.Errorf("Create(%q) = %v", sub, err)
		}
		if _, err := e.m.LogoutEverywhere(ctx, sub); !errors.Is(err, session.ErrInvalidInput) {
			t.Errorf("LogoutEverywhere(%q) = %v", sub, err)
		}
	}
	if n := len(e.rec.events()); n != 0 {
		t.Errorf("%d events", n)
	}
	for _, sub := range []string{"user:élodie", "user:李", "svc:permits-api", "user:a b"} {
		if _, _, err := e.m.Create(ctx, session.Start{Subject: sub, Method: session.MethodPassword}); err != nil {
			t.Errorf("Create(%q) = %v", sub, err)
		}
	}
}

// listDown is a store whose List fails, as when Redis goes away between
// two calls.
type listDown struct{ *session.MemoryStore }

func (listDown) List(context.Context, string) ([]session.Session, error) { return nil, errDown }

// TestLogoutEverywhereStoreDown: when the session store cannot list the
// subject's sessions, log out everywhere still raises the durable epoch,
// reports ErrUnavailable, and this Manager refuses the subject's cached
// sessions at once.
func TestLogoutEverywhereStoreDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, _ := session.GenerateKey(session.EdDSA, "k1")
	keys, _ := session.NewKeyring(key)
	epochs := session.NewMemoryEpochs()
	clk := newClock()
	m, err := session.New(listDown{session.NewMemoryStore()}, keys, session.WithEpochs(epochs), session.WithClock(clk.Now),
		session.WithLogger(quiet), session.WithMaxStaleness(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	waitHealthy(t, m)
	_, alice, _ := m.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	_, bob, _ := m.Create(ctx, session.Start{Subject: "user:bob", Method: session.MethodPassword})
	for _, tok := range []string{alice, bob} {
		if _, err := m.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.LogoutEverywhere(ctx, "user:alice"); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("LogoutEverywhere with the store down = %v", err)
	}
	if r, _ := epochs.Revocations(ctx, "user:alice", clk.Now()); r.Epoch.IsZero() {
		t.Fatal("the epoch was not raised")
	}
	if _, err := m.Verify(ctx, alice); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("alice's cached session after log out everywhere: %v", err)
	}
	if _, err := m.Verify(ctx, bob); err != nil {
		t.Fatalf("bob: %v", err)
	}
}

// TestRetirementIsFinal: a key's retirement can be brought forward, never
// postponed or cleared, so a retired key cannot be brought back to accept
// tokens again.
func TestRetirementIsFinal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	_, tok := e.signIn(t, "user:alice")
	k2, _ := session.GenerateKey(session.ES256, "k2")
	if err := e.keys.Rotate(k2, noon.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Retire("k1", noon.Add(time.Minute)); err != nil {
		t.Fatalf("bringing a retirement forward: %v", err)
	}
	e.clk.Advance(time.Minute)
	if _, err := e.m.Verify(ctx, tok); !errors.Is(err, session.ErrUnknownKey) {
		t.Fatalf("after retirement: %v", err)
	}
	for _, at := range []time.Time{{}, noon.Add(2 * time.Minute), noon.Add(24 * time.Hour)} {
		if err := e.keys.Retire("k1", at); !errors.Is(err, session.ErrInvalidInput) {
			t.Errorf("Retire(k1, %v) = %v, want ErrInvalidInput", at, err)
		}
	}
	if _, err := e.m.Verify(ctx, tok); !errors.Is(err, session.ErrUnknownKey) {
		t.Fatalf("a retired key came back: %v", err)
	}
}

// TestCachedSessionRechecked: a cached verification is checked against
// the store and the EpochStore again at least every minute, so a
// revocation the Manager was not told about (an epoch raised directly in
// the EpochStore by another tool, a lost invalidation) takes effect within
// that minute.
func TestCachedSessionRechecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	epochs := session.NewMemoryEpochs()
	e := newEnv(t, session.WithEpochs(epochs))
	_, tok := e.signIn(t, "user:alice")
	if _, err := e.m.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Second)
	if _, err := epochs.RaiseEpoch(ctx, "user:alice", e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	if _, err := e.m.Verify(ctx, tok); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("a minute after the epoch was raised: %v", err)
	}
}

// TestListRefusesBadSubject: List takes the same subjects as Create and
// LogoutEverywhere; anything else is ErrInvalidInput, not an empty list.
func TestListRefusesBadSubject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, sub := range []string{"", "user:\xff", "user:a\x00", strings.Repeat("a", 257)} {
		if l, err := e.m.List(context.Background(), sub); !errors.Is(err, session.ErrInvalidInput) || l != nil {
			t.Errorf("List(%.20q) = %v, %v", sub, l, err)
		}
	}
}
