package session_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/civic-platform/security/session"
)

// TestLogoutEverywhereSameInstant: log out everywhere refuses every
// session created before it, and accepts every session created after it,
// even when all of it happens within one tick of the clock (a frozen test
// clock, a coarse system clock).
func TestLogoutEverywhereSameInstant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	_, before := e.signIn(t, "user:alice")
	if _, err := e.m.Verify(ctx, before); err != nil {
		t.Fatal(err)
	}
	n, err := e.m.LogoutEverywhere(ctx, "user:alice")
	if err != nil || n != 1 {
		t.Fatalf("LogoutEverywhere = %d, %v", n, err)
	}
	if _, err := e.m.Verify(ctx, before); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("a session created before log-out-everywhere, same instant: %v", err)
	}
	_, after := e.signIn(t, "user:alice")
	if _, err := e.m.Verify(ctx, after); err != nil {
		t.Fatalf("a session created after log-out-everywhere, same instant: %v", err)
	}
	if l, err := e.m.List(ctx, "user:alice"); err != nil || len(l) != 1 {
		t.Fatalf("List = %d, %v", len(l), err)
	}
	// And again, still the same instant: the second call ends the second
	// session.
	n, err = e.m.LogoutEverywhere(ctx, "user:alice")
	if err != nil || n != 1 {
		t.Fatalf("second LogoutEverywhere = %d, %v", n, err)
	}
	if _, err := e.m.Verify(ctx, after); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("second log-out-everywhere: %v", err)
	}
	if l, err := e.m.List(ctx, "user:alice"); err != nil || len(l) != 0 {
		t.Fatalf("List after = %d, %v", len(l), err)
	}
	_, third := e.signIn(t, "user:alice")
	if _, err := e.m.Verify(ctx, third); err != nil {
		t.Fatalf("a third sign-in: %v", err)
	}
}

// TestSignInAfterLogoutEverywhereInAProcessBehind: a process whose clock
// is behind the one that logged the subject out everywhere (within the
// leeway) can still sign the subject in.
func TestSignInAfterLogoutEverywhereInAProcessBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := session.NewMemoryStore()
	epochs := session.NewMemoryEpochs()
	key, _ := session.GenerateKey(session.EdDSA, "k1")
	keys, _ := session.NewKeyring(key)
	ahead, behind := newClock(), newClock()
	ahead.Advance(2 * time.Second)
	mk := func(c *clock) *session.Manager {
		m, err := session.New(store, keys, session.WithClock(c.Now), session.WithEpochs(epochs),
			session.WithLogger(quiet), session.WithMaxStaleness(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		waitHealthy(t, m)
		return m
	}
	a, b := mk(ahead), mk(behind)
	if _, err := a.LogoutEverywhere(ctx, "user:alice"); err != nil {
		t.Fatal(err)
	}
	_, tok, err := b.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*session.Manager{a, b} {
		if _, err := m.Verify(ctx, tok); err != nil {
			t.Fatalf("a sign-in after log-out-everywhere: %v", err)
		}
	}
}

// TestCompleteMFAOnce: one pre-MFA session completes MFA at most once,
// however many requests race; after it, or after a logout, it is refused.
func TestCompleteMFAOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	_, pre, err := e.m.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword, MFA: session.MFAPending})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Verify(ctx, pre); err != nil { // cached
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, tok, err := e.m.CompleteMFA(ctx, pre, session.MethodTOTP)
			if err == nil {
				mu.Lock()
				won = append(won, tok)
				mu.Unlock()
			} else if !errors.Is(err, session.ErrInvalidToken) {
				t.Errorf("a losing CompleteMFA: %v (want an ErrInvalidToken)", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d CompleteMFA succeeded, want 1", len(won))
	}
	l, _ := e.m.List(ctx, "user:alice")
	if len(l) != 1 || l[0].MFA != session.MFADone {
		t.Fatalf("sessions after: %+v", l)
	}
	if _, err := e.m.Verify(ctx, won[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.m.CompleteMFA(ctx, pre, session.MethodTOTP); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("CompleteMFA with the pre-MFA token again: %v", err)
	}
	if err := e.m.Logout(ctx, won[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.m.CompleteMFA(ctx, won[0], session.MethodTOTP); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("CompleteMFA on a logged-out session: %v", err)
	}
	if _, err := e.m.Refresh(ctx, won[0]); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Refresh after logout: %v", err)
	}
}

// TestTokenTextIsExact: a token is exactly three base64url segments;
// whitespace anywhere (which a base64 decoder may skip), a trailing or
// leading dot and other characters are refused as malformed, also when
// the exact token was verified and cached before.
func TestTokenTextIsExact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	_, good := e.signIn(t, "user:alice")
	if _, err := e.m.Verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	i := strings.IndexByte(good, '.')
	j := strings.LastIndexByte(good, '.')
	for name, tok := range map[string]string{
		"trailing newline":           good + "\n",
		"trailing CRLF":              good + "\r\n",
		"leading space":              " " + good,
		"trailing space":             good + " ",
		"trailing tab":               good + "\t",
		"newline in the header":      good[:i-2] + "\n" + good[i-2:],
		"CR in the payload":          good[:i+3] + "\r" + good[i+3:],
		"newline in the signature":   good[:j+3] + "\n" + good[j+3:],
		"trailing dot":               good + ".",
		"leading dot":                "." + good,
		"Bearer prefix":              "Bearer " + good,
		"NUL appended":               good + "\x00",
		"standard base64 alphabet":   strings.NewReplacer("-", "+", "_", "/").Replace(good),
		"non-ASCII in the signature": good[:j+1] + "é" + good[j+1:],
	} {
		if tok == good {
			continue
		}
		if _, err := e.m.Verify(ctx, tok); !errors.Is(err, session.ErrInvalidToken) {
			t.Errorf("%s: Verify = %v, want a refusal", name, err)
		} else if strings.Contains(name, "newline") || strings.Contains(name, "CR") || strings.Contains(name, "space") || strings.Contains(name, "tab") || strings.Contains(name, "dot") {
			if !errors.Is(err, session.ErrMalformed) {
				t.Errorf("%s: Verify = %v, want ErrMalformed", name, err)
			}
		}
	}
}

// TestHeaderVariants: header parameters a token of ours never carries.
// jku, jwk, x5u and x5c are never used to find a key: a token signed by a
// key they point to is refused. crit names extensions we do not
// implement, so a token carrying it is refused (RFC 7515 4.1.11). typ,
// when present, must say JWT.
func TestHeaderVariants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	s, _ := e.signIn(t, "user:alice")
	priv := privateOf(e.key)
	attacker, _ := session.GenerateKey(session.ES256, "k1")
	var fetched atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	defer func() {
		if n := fetched.Load(); n != 0 {
			t.Errorf("a header URL was fetched %d times", n)
		}
	}()
	refused := map[string]map[string]any{
		"jku, no kid":             {"jku": srv.URL + "/jwks.json"},
		"jku to the attacker":     {"kid": "k1", "jku": srv.URL + "/jwks.json"},
		"x5u to the attacker":     {"kid": "k1", "x5u": srv.URL + "/cert.pem"},
		"jwk of the attacker":     {"kid": "k1", "jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}},
		"no kid, jwk":             {"jwk": map[string]any{"kty": "EC"}},
		"kid path traversal":      {"kid": "../../../../dev/null"},
		"kid SQL":                 {"kid": "k1' OR '1'='1"},
		"kid empty":               {"kid": ""},
		"kid number":              {"kid": 1},
		"kid array":               {"kid": []string{"k1"}},
		"kid with NUL":            {"kid": "k1\x00"},
		"kid case":                {"kid": "K1"},
		"kid with trailing space": {"kid": "k1 "},
	}
	for name, h := range refused {
		tok := forge(t, jwt.SigningMethodES256, attacker.Private, h, goodClaims(s))
		if _, err := e.m.Verify(ctx, tok); !errors.Is(err, session.ErrInvalidToken) {
			t.Errorf("attacker's key, %s: %v", name, err)
		}
	}
	for name, h := range map[string]map[string]any{
		"crit empty":          {"kid": "k1", "crit": []string{}},
		"crit exp":            {"kid": "k1", "crit": []string{"exp"}},
		"crit b64":            {"kid": "k1", "crit": []string{"b64"}, "b64": false},
		"crit not an array":   {"kid": "k1", "crit": "b64"},
		"typ at+jwt":          {"kid": "k1", "typ": "at+jwt"},
		"typ JWS":             {"kid": "k1", "typ": "JOSE+JSON"},
		"typ number":          {"kid": "k1", "typ": 1},
		"kid number, our sig": {"kid": 1},
	} {
		tok := forge(t, jwt.SigningMethodES256, priv, h, goodClaims(s))
		if _, err := e.m.Verify(ctx, tok); !errors.Is(err, session.ErrInvalidToken) {
			t.Errorf("our key, %s: %v", name, err)
		}
	}
	for name, h := range map[string]map[string]any{
		"typ JWT":     {"kid": "k1", "typ": "JWT"},
		"typ jwt":     {"kid": "k1", "typ": "jwt"},
		"no typ":      {"kid": "k1", "typ": nil},
		"jku ignored": {"kid": "k1", "jku": srv.URL + "/jwks.json"},
	} {
		tok := forge(t, jwt.SigningMethodES256, priv, h, goodClaims(s))
		if h["typ"] == nil {
			tok = forgeRaw(t, priv, `{"alg":"ES256","kid":"k1"}`, goodClaims(s))
		}
		if _, err := e.m.Verify(ctx, tok); err != nil {
			t.Errorf("our key, %s: %v", name, err)
		}
	}
}

// forgeRaw signs claims under the exact header JSON with ES256.
func forgeRaw(t testing.TB, key any, header string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	payload, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	body := payload[strings.IndexByte(payload, '.')+1:]
	h := base64.RawURLEncoding.EncodeToString([]byte(header))
	sig, err := jwt.SigningMethodES256.Sign(h+"."+body, key)
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + body + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// gate is a store whose Create waits until n Creates have arrived, so that
// n operations are sure to overlap.
type gate struct {
	*session.MemoryStore
	mu      sync.Mutex
	n       int
	arrived int
	all     chan struct{}
}

func newGate(n int) *gate {
	return &gate{MemoryStore: session.NewMemoryStore(), n: n, all: make(chan struct{})}
}

func (g *gate) arm(n int) {
	g.mu.Lock()
	g.n, g.arrived, g.all = n, 0, make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) Create(ctx context.Context, s session.Session) error {
	g.wait()
	return g.MemoryStore.Create(ctx, s)
}

func (g *gate) Delete(ctx context.Context, id string) (session.Session, error) {
	g.wait()
	return g.MemoryStore.Delete(ctx, id)
}

// wait blocks, while the gate is armed, until n calls have arrived.
func (g *gate) wait() {
	g.mu.Lock()
	all := g.all
	if g.n > 0 {
		g.arrived++
		if g.arrived == g.n {
			close(all)
		}
	}
	armed := g.n > 0
	g.mu.Unlock()
	if armed {
		select {
		case <-all:
		case <-time.After(5 * time.Second):
		}
	}
}

// TestCompleteMFARace: two CompleteMFA calls that both verified the
// pre-MFA token before either ended it: only one gets an MFA session; the
// other fails with ErrNoSession and leaves no session behind. Two
// overlapping logouts: one ends the session, the other reports
// ErrNoSession.
func TestCompleteMFARace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newGate(0)
	key, _ := session.GenerateKey(session.EdDSA, "k1")
	keys, _ := session.NewKeyring(key)
	rec := &recorder{}
	m, err := session.New(g, keys, session.WithLogger(quiet), session.WithEventSink(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	waitHealthy(t, m)
	_, pre, err := m.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword, MFA: session.MFAPending})
	if err != nil {
		t.Fatal(err)
	}
	g.arm(2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	toks := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, toks[i], errs[i] = m.CompleteMFA(ctx, pre, session.MethodTOTP)
		}()
	}
	wg.Wait()
	g.arm(0)
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			if _, err := m.Verify(ctx, toks[i]); err != nil {
				t.Errorf("the winner's token: %v", err)
			}
		case !errors.Is(err, session.ErrNoSession):
			t.Errorf("the loser: %v, want ErrNoSession", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 2 overlapping CompleteMFA succeeded: %v", ok, errs)
	}
	if l, _ := m.List(ctx, "user:alice"); len(l) != 1 {
		t.Fatalf("%d sessions after, want 1", len(l))
	}

	_, tok, err := m.Create(ctx, session.Start{Subject: "user:bob", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(ctx, tok); err != nil { // cached: both logouts pass Verify
		t.Fatal(err)
	}
	g.arm(2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Logout(ctx, tok)
		}()
	}
	wg.Wait()
	g.arm(0)
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("overlapping logouts: %v", errs)
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, session.ErrNoSession) {
			t.Errorf("the losing logout: %v, want ErrNoSession", err)
		}
	}
}
