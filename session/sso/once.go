package sso

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// OnceStore keeps short-lived records that can be taken once: the state of
// a sign-in that has begun (OIDC state, nonce and PKCE verifier; a SAML
// request id) until the browser comes back. Several processes behind one
// load balancer share one (adapters/redisstore); [NewMemOnce] serves one
// process.
type OnceStore interface {
	// Put stores value under key until ttl passes; ErrExists if key is
	// held.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Take returns the value of key and deletes it, atomically: of two
	// concurrent Takes of one key, one gets the value and the other
	// ErrNotFound. An expired or missing key is ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
}

// ReplayCache remembers ids (SAML assertion ids) until they expire, so an
// id is accepted once. Several processes must share one
// (adapters/redisstore); [NewMemReplay] serves one process.
type ReplayCache interface {
	// Consume records id until expires; ErrReplay if it is recorded.
	Consume(ctx context.Context, id string, expires time.Time) error
}

// MemOnce is an in-memory [OnceStore] bounded to a number of records: when
// full, Put first drops expired records and then refuses with
// ErrUnavailable rather than evict a sign-in in progress. Safe for concurrent use.
type MemOnce struct {
	mu   sync.Mutex
	max  int
	now  func() time.Time
	recs map[string]onceRec
}

type onceRec struct {
	v   []byte
	exp time.Time
}

// NewMemOnce returns a MemOnce holding at most max records (<= 0: 100,000).
// now is the clock (nil: time.Now).
func NewMemOnce(max int, now func() time.Time) *MemOnce {
	if max <= 0 {
		max = 100_000
	}
	if now == nil {
		now = time.Now
	}
	return &MemOnce{max: max, now: now, recs: map[string]onceRec{}}
}

// Put implements [OnceStore].
func (m *MemOnce) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if r, ok := m.recs[key]; ok && now.Before(r.exp) {
		return ErrExists
	}
	if len(m.recs) >= m.max {
		for k, r := range m.recs {
			if !now.Before(r.exp) {
				delete(m.recs, k)
			}
		}
		if len(m.recs) >= m.max {
			return fmt.Errorf("%w: too many sign-ins in progress", ErrUnavailable)
		}
	}
	m.recs[key] = onceRec{v: append([]byte(nil), value...), exp: now.Add(ttl)}
	return nil
}

// Take implements [OnceStore].
func (m *MemOnce) Take(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[key]
	delete(m.recs, key)
	if !ok || !m.now().Before(r.exp) {
		return nil, ErrNotFound
	}
	return r.v, nil
}

// MemReplay is an in-memory [ReplayCache] bounded to a number of ids; when
// full of unexpired ids it refuses new ones with ErrUnavailable (fails
// closed) rather than forget one. Safe for concurrent use.
type MemReplay struct {
	mu  sync.Mutex
	max int
	now func() time.Time
	ids map[string]time.Time
}

// NewMemReplay returns a MemReplay holding at most max ids (<= 0:
// 1,000,000). now is the clock (nil: time.Now).
func NewMemReplay(max int, now func() time.Time) *MemReplay {
	if max <= 0 {
		max = 1_000_000
	}
	if now == nil {
		now = time.Now
	}
	return &MemReplay{max: max, now: now, ids: map[string]time.Time{}}
}

// Consume implements [ReplayCache].
func (m *MemReplay) Consume(_ context.Context, id string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if exp, ok := m.ids[id]; ok && now.Before(exp) {
		return ErrReplay
	}
	if len(m.ids) >= m.max {
		for k, exp := range m.ids {
			if !now.Before(exp) {
				delete(m.ids, k)
			}
		}
		if len(m.ids) >= m.max {
			return fmt.Errorf("%w: replay cache full", ErrUnavailable)
		}
	}
	m.ids[id] = expires
	return nil
}
