package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/civic-platform/security/session/sso"
)

// SSOStore keeps single sign-on state in Redis, shared by every process of
// a service: sign-ins in progress (OIDC state, SAML request ids; an
// sso.OnceStore) and accepted SAML assertion ids (an sso.ReplayCache), so
// a browser may come back to any process and an assertion is accepted
// once across all of them. Keys are SHA-256 digests of the caller's keys
// under prefix+"sso:", and expire by themselves.
type SSOStore struct {
	client rueidis.Client
	prefix string
}

// NewSSOStore uses client (not closed by the SSOStore) under prefix.
func NewSSOStore(client rueidis.Client, prefix string) *SSOStore {
	return &SSOStore{client: client, prefix: prefix + "sso:"}
}

func (s *SSOStore) key(kind, k string) string {
	h := sha256.Sum256([]byte(k))
	return s.prefix + kind + hex.EncodeToString(h[:])
}

// Put stores value under key for ttl, unless key is held (sso.ErrExists).
func (s *SSOStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("redisstore: sso put: ttl must be positive")
	}
	err := s.client.Do(ctx, s.client.B().Set().Key(s.key("o:", key)).Value(rueidis.BinaryString(value)).Nx().Px(ttl).Build()).Error()
	if rueidis.IsRedisNil(err) {
		return sso.ErrExists
	}
	if err != nil {
		return fmt.Errorf("redisstore: sso put: %w", err)
	}
	return nil
}

// Take returns and deletes key's value in one command (GETDEL), so of two
// processes taking one key, one gets it; sso.ErrNotFound if absent.
func (s *SSOStore) Take(ctx context.Context, key string) ([]byte, error) {
	v, err := s.client.Do(ctx, s.client.B().Getdel().Key(s.key("o:", key)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, sso.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: sso take: %w", err)
	}
	return v, nil
}

// Consume records id until expires (SET NX with an absolute expiry);
// sso.ErrReplay if it is recorded. An expiry already past is recorded for
// a minute, so a stale assertion cannot slip through a zero TTL.
func (s *SSOStore) Consume(ctx context.Context, id string, expires time.Time) error {
	if min := time.Now().Add(time.Minute); expires.Before(min) {
		expires = min
	}
	err := s.client.Do(ctx, s.client.B().Set().Key(s.key("r:", id)).Value("1").Nx().Pxat(expires).Build()).Error()
	if rueidis.IsRedisNil(err) {
		return sso.ErrReplay
	}
	if err != nil {
		return fmt.Errorf("redisstore: sso replay cache: %w", err)
	}
	return nil
}
