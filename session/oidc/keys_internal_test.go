package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySetServing returns a keySet over a JWKS server answering set.
func keySetServing(t *testing.T, set jose.JSONWebKeySet) *keySet {
	t.Helper()
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	t.Cleanup(srv.Close)
	return &keySet{url: srv.URL, client: srv.Client(), now: time.Now, interval: time.Minute,
		algs: []jose.SignatureAlgorithm{jose.RS256, jose.ES256}}
}

func sign(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// TestKeySetHygiene: keys that cannot be trusted are never used to verify
// a token, whatever the token says.
func TestKeySetHygiene(t *testing.T) {
	t.Parallel()
	good, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := func(k any, kid, alg string) jose.JSONWebKey {
		return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: alg, Use: "sig"}
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		pub(&good.PublicKey, "good", "RS256"),
		pub(&small.PublicKey, "small", "RS256"),
		pub(&good.PublicKey, "twice", "RS256"),
		pub(&other.PublicKey, "twice", "RS256"),
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256", Use: "sig"},
		pub(&ec.PublicKey, "ec", "ES256"),
		{Key: &other.PublicKey, KeyID: "enc", Algorithm: "RSA-OAEP", Use: "enc"},
	}}
	ks := keySetServing(t, set)
	ctx := context.Background()
	if _, err := ks.VerifySignature(ctx, sign(t, good, jose.RS256, "good")); err != nil {
		t.Fatalf("a 2048-bit key: %v", err)
	}
	if _, err := ks.VerifySignature(ctx, sign(t, ec, jose.ES256, "ec")); err != nil {
		t.Fatalf("a P-256 key: %v", err)
	}
	refused := []struct {
		name  string
		token string
	}{
		{"RSA key under 2048 bits", sign(t, small, jose.RS256, "small")},
		{"kid published twice, first key", sign(t, good, jose.RS256, "twice")},
		{"kid published twice, second key", sign(t, other, jose.RS256, "twice")},
		{"symmetric key in the set", sign(t, []byte("0123456789abcdef0123456789abcdef"), jose.HS256, "oct")},
		{"encryption key", sign(t, other, jose.RS256, "enc")},
	}
	for _, tt := range refused {
		_, err := ks.VerifySignature(ctx, tt.token)
		if !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrSignature) {
			t.Errorf("%s: err = %v, want ErrUnknownKey or ErrSignature", tt.name, err)
		}
		if err == nil {
			t.Errorf("%s: verified", tt.name)
		}
	}
}

// TestEmailVerifiedOnlyWhenTrue: only the JSON value true verifies an
// email; strings and numbers never do.
func TestEmailVerifiedOnlyWhenTrue(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		`true`: true, `"true"`: false, `"True"`: false, `1`: false, `"yes"`: false, `false`: false, `null`: false, `{}`: false, `[true]`: false,
	} {
		c, err := parseClaims([]byte(`{"email_verified":`+raw+`}`), "groups", nil)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if bool(c.EmailVerified) != want {
			t.Errorf("email_verified %s read as %v, want %v", raw, c.EmailVerified, want)
		}
	}
}

// TestOverageOfConfiguredGroupsClaim: a distributed-claim reference for
// the configured groups claim makes the groups unknown, not empty.
func TestOverageOfConfiguredGroupsClaim(t *testing.T) {
	t.Parallel()
	rp := &RelyingParty{cfg: Config{Provider: "p", GroupsClaim: "roles"}, mfaAMR: defaultMFA}
	for _, payload := range []string{
		`{"sub":"s","roles":["a"],"_claim_names":{"roles":"src1"},"_claim_sources":{"src1":{"endpoint":"https://graph.example/x"}}}`,
		`{"sub":"s","_claim_names":{"roles":{"odd":1}}}`,
		`{"sub":"s","hasgroups":"true"}`,
	} {
		c, err := parseClaims([]byte(payload), "roles", nil)
		if err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		id, err := rp.identity(c)
		if err != nil {
			t.Fatal(err)
		}
		if !id.GroupsUnknown || len(id.Groups) != 0 {
			t.Errorf("%s: groups %v unknown=%v, want unknown", payload, id.Groups, id.GroupsUnknown)
		}
	}
}
