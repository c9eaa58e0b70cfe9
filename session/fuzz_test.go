package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/civic-platform/security/session"
)

// FuzzVerify feeds arbitrary input to the token parser. The oracle: only
// the exact tokens the Manager issued are accepted; everything else is
// refused with an ErrInvalidToken error and no session; nothing panics.
// (EdDSA signatures are not malleable, so a genuine token has one
// encoding.)
func FuzzVerify(f *testing.F) {
	key, err := session.GenerateKey(session.EdDSA, "k1")
	if err != nil {
		f.Fatal(err)
	}
	keys, err := session.NewKeyring(key)
	if err != nil {
		f.Fatal(err)
	}
	clk := newClock()
	m, err := session.New(session.NewMemoryStore(), keys, session.WithClock(clk.Now), session.WithLogger(quiet))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { m.Close() })
	ctx := context.Background()
	s, good, err := m.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		f.Fatal(err)
	}
	claims := jwt.MapClaims{"iss": "civic-security", "aud": "civic-platform", "sub": s.Subject, "sid": s.ID,
		"iat": s.Created.Unix(), "nbf": s.Created.Unix(), "exp": s.Expires.Unix()}
	f.Add(good)
	f.Add(forge(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": "k1"}, claims))
	f.Add(forge(f, jwt.SigningMethodHS256, []byte("k1"), map[string]any{"kid": "k1"}, claims))
	f.Add(flip(good))
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.e30.")
	f.Add(good + "\n")
	f.Add(good[:len(good)-4] + "\r\n" + good[len(good)-4:])
	f.Add(" " + good)
	f.Add(good + ".")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := m.Verify(ctx, tok)
		if tok == good {
			if err != nil || got.ID != s.ID {
				t.Fatalf("the genuine token: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("accepted a token that was never issued: %q", tok)
		}
		if !errors.Is(err, session.ErrInvalidToken) {
			t.Fatalf("refusal %v does not wrap ErrInvalidToken", err)
		}
		if got != (session.Session{}) {
			t.Fatalf("refused token returned %+v", got)
		}
	})
}
