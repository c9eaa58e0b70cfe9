package oidc

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// maxKeySet bounds a JWKS document.
const maxKeySet = 1 << 20

// keySet verifies JWS signatures with the provider's published keys. It
// fetches the key set on first use and again when a token names a key id
// it does not have, but at most once per interval: a flood of tokens with
// made-up key ids costs one fetch per interval, not one per token. It
// implements go-oidc's KeySet.
type keySet struct {
	url      string
	client   *http.Client
	now      func() time.Time
	interval time.Duration
	algs     []jose.SignatureAlgorithm

	mu      sync.Mutex
	keys    map[string]jose.JSONWebKey
	fetched time.Time // last fetch attempt; zero: never
	fetches int64
}

// VerifySignature implements go-oidc's KeySet: it returns the verified
// payload, or an error wrapping ErrMalformed, ErrSignature, ErrUnknownKey
// or ErrUnavailable.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		// An algorithm outside the list ("none", HS256) fails here.
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrSignature)
	}
	h := jws.Signatures[0].Protected
	if err := plainHeader(raw); err != nil {
		return nil, err
	}
	key, err := k.key(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return nil, fmt.Errorf("%w: key %q is for %s, token uses %s", ErrSignature, h.KeyID, key.Algorithm, h.Algorithm)
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return payload, nil
}

// plainHeader refuses a header that carries or points to a key (jwk, jku,
// x5u, x5c) or has critical extensions: keys come only from the configured
// provider's key set.
func plainHeader(raw string) error {
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	for _, name := range []string{"jwk", "jku", "x5u", "x5c", "crit", "cty", "enc", "zip"} {
		if _, ok := h[name]; ok {
			return fmt.Errorf("%w: header %s is not accepted", ErrSignature, name)
		}
	}
	// An ID token is typed JWT or not at all; another type (at+jwt, a
	// logout token, a nested JWT) is a different token presented as one.
	if raw, ok := h["typ"]; ok {
		var typ string
		if json.Unmarshal(raw, &typ) != nil || !strings.EqualFold(typ, "JWT") && !strings.EqualFold(typ, "application/jwt") {
			return fmt.Errorf("%w: header typ %.40s is not an ID token's", ErrSignature, raw)
		}
	}
	return nil
}

// key returns the key with kid, refreshing the set if it is unknown and
// the interval since the last fetch has passed.
func (k *keySet) key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.lookup(kid); ok {
		return key, nil
	}
	if !k.fetched.IsZero() && k.now().Sub(k.fetched) < k.interval {
		return jose.JSONWebKey{}, fmt.Errorf("%w: %.40q", ErrUnknownKey, kid)
	}
	if err := k.fetch(ctx); err != nil {
		return jose.JSONWebKey{}, err
	}
	if key, ok := k.lookup(kid); ok {
		return key, nil
	}
	return jose.JSONWebKey{}, fmt.Errorf("%w: %.40q", ErrUnknownKey, kid)
}

// lookup finds kid; a token without kid matches only a set of one key.
func (k *keySet) lookup(kid string) (jose.JSONWebKey, bool) {
	if kid == "" {
		if len(k.keys) == 1 {
			for _, key := range k.keys {
				return key, true
			}
		}
		return jose.JSONWebKey{}, false
	}
	key, ok := k.keys[kid]
	return key, ok
}

// fetch replaces the keys with the provider's current set. Called with mu
// held; a failed fetch also counts against the interval.
func (k *keySet) fetch(ctx context.Context) error {
	k.fetched = k.now()
	k.fetches++
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return fmt.Errorf("%w: keys: %w", ErrUnavailable, err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: keys: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: keys: status %d", ErrUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySet+1))
	if err != nil || len(body) > maxKeySet {
		return fmt.Errorf("%w: keys: unreadable or over %d bytes", ErrUnavailable, maxKeySet)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return fmt.Errorf("%w: keys: %w", ErrUnavailable, err)
	}
	keys := map[string]jose.JSONWebKey{}
	seen := map[string]int{}
	for _, key := range set.Keys {
		if key.Use != "" && key.Use != "sig" || !key.IsPublic() || !key.Valid() || weak(key) {
			continue
		}
		seen[key.KeyID]++
		keys[key.KeyID] = key
	}
	// A key id published for two signing keys is ambiguous: neither is
	// used.
	for kid, n := range seen {
		if n > 1 {
			delete(keys, kid)
		}
	}
	k.keys = keys
	return nil
}

// minRSABits is the smallest RSA modulus accepted for a signing key.
const minRSABits = 2048

// weak reports a key too small to trust: an RSA modulus under 2048 bits.
// (Symmetric keys never get here: they are not public keys.)
func weak(key jose.JSONWebKey) bool {
	if k, ok := key.Key.(*rsa.PublicKey); ok {
		return k.N.BitLen() < minRSABits
	}
	return false
}

// Fetches returns how many times the key set was fetched.
func (k *keySet) Fetches() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fetches
}
