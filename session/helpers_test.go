package session_test

import (
	"context"
	"crypto"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/session"
)

var noon = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: noon} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder collects events.
type recorder struct {
	mu sync.Mutex
	ev []iam.Event
}

func (r *recorder) Record(_ context.Context, e iam.Event) error {
	r.mu.Lock()
	r.ev = append(r.ev, e)
	r.mu.Unlock()
	return nil
}

func (r *recorder) events() []iam.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]iam.Event(nil), r.ev...)
}

// env is one Manager on a memory store with a test clock and recorder.
type env struct {
	m     *session.Manager
	store *session.MemoryStore
	keys  *session.Keyring
	key   session.SigningKey
	clk   *clock
	rec   *recorder
}

func newEnv(t testing.TB, opts ...session.Option) *env {
	t.Helper()
	key, err := session.GenerateKey(session.ES256, "k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := session.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: session.NewMemoryStore(), keys: keys, key: key, clk: newClock(), rec: &recorder{}}
	all := append([]session.Option{
		session.WithClock(e.clk.Now), session.WithEventSink(e.rec), session.WithLogger(quiet),
		session.WithIssuer("city-iam"), session.WithAudience("permits"),
		// The test clock jumps; a long bound keeps cached sessions in use,
		// so that every test also exercises the cache's invalidation.
		session.WithMaxStaleness(24 * time.Hour),
	}, opts...)
	m, err := session.New(e.store, keys, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	e.m = m
	waitHealthy(t, m)
	return e
}

// waitHealthy waits until the Manager's change feed has confirmed.
func waitHealthy(t testing.TB, m *session.Manager) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !m.Health().Connected {
		if time.Now().After(deadline) {
			t.Fatalf("manager not connected: %+v", m.Health())
		}
		time.Sleep(time.Millisecond)
	}
}

func (e *env) signIn(t testing.TB, sub string) (session.Session, string) {
	t.Helper()
	s, tok, err := e.m.Create(context.Background(), session.Start{Subject: sub, Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	return s, tok
}

// forge signs claims with method and key, with the given header fields.
func forge(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// goodClaims are the claims Create would write for s.
func goodClaims(s session.Session) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "city-iam", "aud": "permits", "sub": s.Subject, "sid": s.ID,
		"iat": s.Created.Unix(), "nbf": s.Created.Unix(), "exp": s.Expires.Unix(),
	}
}

func privateOf(k session.SigningKey) crypto.Signer { return k.Private }
