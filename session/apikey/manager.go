package apikey

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/audit"
	"github.com/civic-platform/security/rbac"
)

// Event types.
const (
	EventKeyCreated          = "apikey.created"
	EventKeyRotated          = "apikey.rotated"
	EventKeyRevoked          = "apikey.revoked"
	EventKeyExpired          = "apikey.expired"
	EventKeyUsedAfterOverlap = "apikey.used_after_overlap"
	EventAccountCreated      = "service_account.created"
	EventAccountDisabled     = "service_account.disabled"
	EventAccountEnabled      = "service_account.enabled"
	EventAccountDeleted      = "service_account.deleted"
)

// Manager creates, verifies, rotates and revokes API keys and manages
// service accounts. Build one with New and share it; it is safe for
// concurrent use. It owns up to two goroutines (the feed follower and the
// last-use flusher); Close stops them and flushes.
type Manager struct {
	store  Store
	policy Policy
	h      hasher
	o      options
	dummy  [32]byte // compared against when the id is unknown

	cache *lru.Cache[string, *entry]
	neg   *lru.Cache[string, int64] // unknown ids -> until (Unix ns)
	// seq counts invalidations; a store read is cached only if it did not
	// move meanwhile, so a racing invalidation is never undone.
	seq       atomic.Uint64
	confirmed atomic.Int64 // feed: last Alive (Unix ns); 0 while down

	pendMu  sync.Mutex
	pending map[string]int64 // last uses of evicted entries, not yet flushed

	closed atomic.Bool
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// entry is a verified key in the process cache. Everything but the
// atomics is immutable.
type entry struct {
	p        Principal
	fast     [32]byte // SHA-256 of the secret, which passed the HMAC check
	fetched  int64
	expires  int64 // Unix ns; 0 never
	retires  int64
	revoked  bool
	disabled bool

	lastUsed atomic.Int64
	flushed  atomic.Int64
	told     atomic.Bool  // apikey.expired emitted by this process
	toldLate atomic.Int64 // when apikey.used_after_overlap was last emitted here
}

// lateEvery is how often a process emits apikey.used_after_overlap for
// one key that keeps being presented after its deadline.
const lateEvery = time.Minute

// New returns a Manager keeping accounts and keys in store, deciding uses
// through policy, and hashing secrets with HMAC-SHA-256 under hashKey (at
// least MinHashKey bytes, kept secret, the same in every process; for
// example from session/secrets).
func New(store Store, policy Policy, hashKey []byte, opts ...Option) (*Manager, error) {
	if store == nil || policy == nil {
		return nil, fmt.Errorf("%w: New needs a Store and a Policy", ErrInvalidInput)
	}
	if len(hashKey) < MinHashKey {
		return nil, fmt.Errorf("%w: the hash key must be at least %d bytes", ErrInvalidInput, MinHashKey)
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	m := &Manager{store: store, policy: policy, h: hasher{key: append([]byte(nil), hashKey...)}, o: o,
		pending: map[string]int64{}}
	m.dummy = m.h.sum("dummy-secret-for-unknown-ids")
	var err error
	m.cache, err = lru.NewWithEvict(o.cacheSize, func(id string, e *entry) {
		if u := e.lastUsed.Load(); u > e.flushed.Load() {
			m.pendMu.Lock()
			m.pending[id] = max(m.pending[id], u)
			m.pendMu.Unlock()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("apikey: cache: %w", err)
	}
	if m.neg, err = lru.New[string, int64](max(o.cacheSize/4, 16)); err != nil {
		return nil, fmt.Errorf("apikey: cache: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	if o.feed != nil {
		m.wg.Add(1)
		go m.follow(ctx)
	}
	m.wg.Add(1)
	go m.flusher(ctx)
	return m, nil
}

// Close stops the Manager's goroutines and writes the last uses not yet
// flushed. Later calls return nil; other methods then fail with ErrClosed.
func (m *Manager) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	m.cancel()
	m.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.Flush(ctx)
}

func (m *Manager) follow(ctx context.Context) {
	defer m.wg.Done()
	interval := max(m.o.staleness/4, 10*time.Millisecond)
	backoff := 50 * time.Millisecond
	for {
		err := m.o.feed.Watch(ctx, interval, m.apply)
		m.confirmed.Store(0)
		m.purge()
		if ctx.Err() != nil {
			return
		}
		m.o.logger.Warn("apikey: invalidation feed failed; keys are read from the store until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// apply handles one message of the feed (or a change made here).
func (m *Manager) apply(c Change) {
	switch {
	case c.All:
		m.purge()
	case c.ID != "":
		m.seq.Add(1)
		if len(c.ID) > 4 && c.ID[:4] == "svc:" {
			m.purge() // an account changed: rare, drop everything
			return
		}
		m.cache.Remove(c.ID)
		m.neg.Remove(c.ID)
	case c.Alive:
		if m.confirmed.Load() == 0 {
			// (Re)connected: whatever was cached before may have missed
			// messages published while the feed was not listening.
			m.purge()
		}
		m.confirmed.Store(m.o.now().UnixNano())
	case c.Down != nil:
		m.confirmed.Store(0)
	}
}

func (m *Manager) purge() {
	m.seq.Add(1)
	m.cache.Purge()
	m.neg.Purge()
}

// fresh reports whether an entry read at fetched may be served at now.
func (m *Manager) fresh(fetched, now int64) bool {
	if m.o.feed == nil {
		return now-fetched <= int64(m.o.staleness)
	}
	c := m.confirmed.Load()
	return c != 0 && now-c <= int64(m.o.staleness)
}

// publish invalidates id here at once and in other processes through the
// feed.
func (m *Manager) publish(ctx context.Context, id string) error {
	m.apply(Change{ID: id})
	if m.o.feed == nil {
		return nil
	}
	if err := m.o.feed.Publish(ctx, id); err != nil {
		return fmt.Errorf("%w: publish invalidation: %w", ErrUnavailable, err)
	}
	return nil
}

// Verify checks a presented key and returns who it speaks for. A key in
// the process cache is verified without any store access or allocation;
// a miss reads the store once and caches the result. Every refusal wraps
// ErrInvalidKey and one reason: ErrMalformed, ErrChecksum, ErrUnknownKey
// (no such id or a wrong secret, indistinguishable), ErrRevoked,
// ErrRetired, ErrExpired, ErrAccountDisabled or ErrUnavailable.
//
// Verify does not decide what the key may do: use Authorize, or pass the
// Principal's Subject to the Authorizer after checking the narrowing.
func (m *Manager) Verify(ctx context.Context, key string) (Principal, error) {
	if m.closed.Load() {
		return Principal{}, ErrClosed
	}
	parts, err := Parse(key)
	if err != nil {
		return Principal{}, err
	}
	now := m.o.now().UnixNano()
	if e, ok := m.cache.Get(parts.ID); ok && m.fresh(e.fetched, now) {
		fast := fastSum(parts.Secret)
		if subtle.ConstantTimeCompare(fast[:], e.fast[:]) != 1 {
			return Principal{}, errUnknown
		}
		return m.judge(ctx, e, now)
	}
	if until, ok := m.neg.Get(parts.ID); ok && now < until {
		// Known to be unknown: spend what a wrong secret for a cached key
		// costs, and answer the same.
		fast := fastSum(parts.Secret)
		subtle.ConstantTimeCompare(fast[:], m.dummy[:])
		return Principal{}, errUnknown
	}
	return m.miss(ctx, parts, now)
}

// miss reads the key from the store, checks the secret and caches.
func (m *Manager) miss(ctx context.Context, parts Parts, now int64) (Principal, error) {
	seq := m.seq.Load()
	k, a, err := m.store.Key(ctx, parts.ID)
	sum := m.h.sum(parts.Secret)
	if errors.Is(err, ErrNotFound) {
		subtle.ConstantTimeCompare(sum[:], m.dummy[:])
		if m.seq.Load() == seq {
			m.neg.Add(parts.ID, now+int64(m.o.staleness))
		}
		return Principal{}, errUnknown
	}
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", errStale, err)
	}
	if subtle.ConstantTimeCompare(sum[:], k.Hash[:]) != 1 {
		return Principal{}, errUnknown
	}
	e := &entry{
		p: Principal{KeyID: k.ID, Account: k.Account, Subject: a.Subject(), Name: k.Name,
			narrowing: k.Narrowing},
		fast: fastSum(parts.Secret), fetched: now,
		expires: unixOrZero(k.Expires), retires: unixOrZero(k.Retires),
		revoked: !k.Revoked.IsZero(), disabled: a.Status != AccountActive,
	}
	e.flushed.Store(unixOrZero(k.LastUsed))
	if m.seq.Load() == seq && !m.closed.Load() {
		if old, ok := m.cache.Peek(k.ID); ok {
			e.lastUsed.Store(old.lastUsed.Load())
			e.flushed.Store(max(e.flushed.Load(), old.flushed.Load()))
		}
		m.cache.Add(k.ID, e)
	}
	return m.judge(ctx, e, now)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// judge applies the key's state at now and records the use.
func (m *Manager) judge(ctx context.Context, e *entry, now int64) (Principal, error) {
	switch {
	case e.revoked:
		return Principal{}, errRevoked
	case e.disabled:
		return Principal{}, errDisabled
	case e.retires != 0 && now >= e.retires:
		if last := e.toldLate.Load(); (last == 0 || now-last >= int64(lateEvery)) && e.toldLate.CompareAndSwap(last, now) {
			m.emit(ctx, EventKeyUsedAfterOverlap, e.p.Subject, map[string]string{
				"key": e.p.KeyID, "account": e.p.Account, "retired_at": time.Unix(0, e.retires).UTC().Format(time.RFC3339)})
		}
		return Principal{}, errRetired
	case e.expires != 0 && now >= e.expires:
		if !e.told.Swap(true) {
			m.emit(ctx, EventKeyExpired, e.p.Subject, map[string]string{
				"key": e.p.KeyID, "account": e.p.Account, "expired_at": time.Unix(0, e.expires).UTC().Format(time.RFC3339)})
		}
		return Principal{}, errExpired
	}
	e.lastUsed.Store(now)
	return e.p, nil
}

// Authorize verifies key and decides whether its account may use perm at
// scope now: the request must lie inside the key's narrowing (ErrNarrowed
// otherwise) and the live policy must allow the account (ErrDenied
// otherwise, at once after the account loses a role). Both refusals wrap
// ErrInvalidKey's sibling sentinels, not ErrInvalidKey: the key itself
// was good. A policy error (stale snapshot, closed Authorizer) is
// returned wrapped and denies.
func (m *Manager) Authorize(ctx context.Context, key string, perm rbac.Permission, scope rbac.Scope) (Principal, error) {
	p, err := m.Verify(ctx, key)
	if err != nil {
		return Principal{}, err
	}
	if !p.narrowing.allows(perm, scope) {
		return Principal{}, ErrNarrowed
	}
	d, err := m.policy.Check(ctx, p.Subject, perm, scope)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrDenied, err)
	}
	if !d.Allowed {
		return Principal{}, ErrDenied
	}
	return p, nil
}

func (m *Manager) emit(ctx context.Context, typ string, sub rbac.Subject, detail map[string]string) {
	if m.o.sink == nil {
		return
	}
	e := iam.Event{Version: iam.EventSchemaVersion, ID: audit.NewID(), Type: typ,
		Time: m.o.now().UTC(), Subject: sub, Detail: detail}
	if actor, ok := iam.ActorFromContext(ctx); ok {
		e.Actor = actor
	}
	if err := m.o.sink.Record(context.WithoutCancel(ctx), e); err != nil {
		m.o.logger.Warn("apikey: event not recorded", "type", typ, "err", err)
	}
}

// Health describes a Manager's view of its feed and cache.
type Health struct {
	// Connected: the feed confirmed within the staleness bound, so cached
	// keys are served; always true without a feed.
	Connected bool
	// Confirmed is when the feed last confirmed; zero without a feed or
	// while it is down.
	Confirmed time.Time
	// Cached is the number of keys in the process cache.
	Cached int
}

// Health reports the feed's state and the cache's size.
func (m *Manager) Health() Health {
	h := Health{Cached: m.cache.Len()}
	if m.o.feed == nil {
		h.Connected = true
		return h
	}
	if c := m.confirmed.Load(); c != 0 {
		h.Confirmed = time.Unix(0, c)
		h.Connected = m.fresh(0, m.o.now().UnixNano())
	}
	return h
}
