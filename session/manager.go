package session

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Manager issues, verifies and ends sessions. It is the one type a service
// needs: build it once with [New] and share it.
//
// A Manager is safe for concurrent use. It owns one goroutine, which
// follows the store's change feed; [Manager.Close] stops it.
type Manager struct {
	store  Store
	tok    *tokens
	o      options
	epochs EpochStore

	cache *lru.Cache[[32]byte, *entry]
	byID  sync.Map // session id -> its one cached *entry, for invalidations
	// seq counts invalidations. Verify reads it before it reads the store
	// and caches what it read only if it has not moved, so that an
	// invalidation that raced with the read is never undone.
	seq atomic.Uint64

	// confirmed is when (Manager clock, Unix ns) the change feed last said
	// nothing was missed; 0 while it is down.
	confirmed atomic.Int64
	// confirmedMono is the same moment on the monotonic clock (ns since
	// born, 0 while down): the bound is real time too, so a Manager whose
	// injected clock stands still or is stepped back still stops serving
	// its cache when the feed goes quiet.
	confirmedMono atomic.Int64
	born          time.Time
	feedErr       atomic.Pointer[error]

	epochMu    sync.Mutex
	epochCache map[string]epochEntry

	closed atomic.Bool
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// entry is a verified token in the cache. s is immutable; lastSeen moves
// with Refresh in this process.
type entry struct {
	s        Session
	kid      string    // the signing key, which must still verify
	until    time.Time // the token's exp plus the leeway, or the record's expiry if earlier
	checked  time.Time // when the record and revocations were read; re-read after epochTTL
	lastSeen atomic.Int64
	dead     atomic.Bool
	key      [32]byte
}

type epochEntry struct {
	r       Revocations
	fetched time.Time
}

// epochTTL is how long revocations read from the EpochStore, and a cached
// verification, are trusted before they are read again. A change to one of
// the subject's sessions, a flush or a reconnection of the session store
// drops them sooner; the bound covers what no feed reports (an epoch
// raised directly in the EpochStore, a lost invalidation).
const epochTTL = time.Minute

// New returns a Manager keeping records in store and signing with keys.
func New(store Store, keys *Keyring, opts ...Option) (*Manager, error) {
	if store == nil || keys == nil {
		return nil, fmt.Errorf("%w: New needs a Store and a Keyring", ErrInvalidInput)
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	m := &Manager{store: store, o: o, epochs: o.epochs, epochCache: map[string]epochEntry{}, born: time.Now()}
	if m.epochs == nil {
		m.epochs = NewMemoryEpochs()
	}
	m.tok = newTokens(keys, o.issuer, o.audience, o.leeway, o.now)
	if o.cacheSize > 0 {
		c, err := lru.NewWithEvict(o.cacheSize, func(_ [32]byte, e *entry) {
			m.byID.CompareAndDelete(e.s.ID, e)
		})
		if err != nil {
			return nil, fmt.Errorf("session: cache: %w", err)
		}
		m.cache = c
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(1)
	go m.follow(ctx)
	return m, nil
}

// Close stops the change feed and waits for it. Later calls fail with
// ErrClosed.
func (m *Manager) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	m.cancel()
	m.wg.Wait()
	m.purge()
	return nil
}

// follow runs the store's change feed until ctx is done, restarting it
// with capped backoff when it fails. While it is down nothing is
// confirmed, so cached sessions age out after the staleness bound.
func (m *Manager) follow(ctx context.Context) {
	defer m.wg.Done()
	interval := max(m.o.staleness/4, 10*time.Millisecond)
	backoff := 50 * time.Millisecond
	for {
		err := m.store.Watch(ctx, interval, m.apply)
		m.confirmed.Store(0)
		m.confirmedMono.Store(0)
		m.purge()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("change feed ended")
		}
		m.feedErr.Store(&err)
		m.o.logger.Warn("session: change feed failed; cached sessions expire after the staleness bound", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// apply handles one change from the feed.
func (m *Manager) apply(c Change) {
	switch {
	case c.All:
		m.purge()
	case c.SessionID != "":
		m.seq.Add(1)
		if v, ok := m.byID.LoadAndDelete(c.SessionID); ok {
			e := v.(*entry)
			e.dead.Store(true)
			if m.cache != nil {
				m.cache.Remove(e.key)
			}
			m.epochMu.Lock()
			delete(m.epochCache, e.s.Subject)
			m.epochMu.Unlock()
		}
	case c.Alive:
		m.confirmed.Store(m.o.now().UnixNano())
		m.confirmedMono.Store(int64(time.Since(m.born)) + 1)
		m.feedErr.Store(nil)
	case c.Down != nil:
		err := c.Down
		m.feedErr.Store(&err)
	}
}

// purge drops every cached session and epoch.
func (m *Manager) purge() {
	m.seq.Add(1)
	m.byID.Range(func(k, v any) bool {
		v.(*entry).dead.Store(true)
		m.byID.Delete(k)
		return true
	})
	if m.cache != nil {
		m.cache.Purge()
	}
	m.epochMu.Lock()
	clear(m.epochCache)
	m.epochMu.Unlock()
}

// fresh reports whether cached sessions may be served at now.
func (m *Manager) fresh(now time.Time) bool {
	c, mono := m.confirmed.Load(), m.confirmedMono.Load()
	return c != 0 && mono != 0 && now.UnixNano()-c <= int64(m.o.staleness) &&
		int64(time.Since(m.born))-mono <= int64(m.o.staleness)
}

// Health describes the Manager's view of its store.
type Health struct {
	// Connected: the store's change feed confirmed within the staleness
	// bound, so cached sessions are being served.
	Connected bool
	// Confirmed is when the feed last confirmed; zero if never or down.
	Confirmed time.Time
	// Cached is the number of sessions in the process cache.
	Cached int
	// Err is the feed's last error while it is down.
	Err error
}

// Health reports whether the Manager is following its store. While
// Connected is false, Verify answers only from the store, and fails closed
// with ErrUnavailable if the store cannot be read.
func (m *Manager) Health() Health {
	h := Health{Connected: m.fresh(m.o.now())}
	if c := m.confirmed.Load(); c != 0 {
		h.Confirmed = time.Unix(0, c)
	}
	if m.cache != nil {
		h.Cached = m.cache.Len()
	}
	if p := m.feedErr.Load(); p != nil && !h.Connected {
		h.Err = *p
	}
	return h
}

// digest hashes a token for the cache without copying it.
func digest(tok string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(tok), len(tok)))
}

// Verify authenticates a token and returns its session. The signature is
// verified once per token per process; after that the answer comes from
// the cache until the session ends, is revoked anywhere, or the store's
// change feed has not confirmed for longer than the staleness bound.
//
// Refusals wrap [ErrInvalidToken] and a precise sentinel (ErrMalformed,
// ErrBadSignature, ErrUnknownKey, ErrExpired, ErrNotYetValid, ErrClaims,
// ErrNoSession, ErrIdle); a store that cannot answer gives ErrUnavailable.
func (m *Manager) Verify(ctx context.Context, token string) (Session, error) {
	if m.closed.Load() {
		return Session{}, ErrClosed
	}
	if len(token) == 0 || len(token) > MaxTokenSize {
		return Session{}, tokenErr(ErrMalformed, fmt.Errorf("token length %d not in 1..%d", len(token), MaxTokenSize))
	}
	now := m.o.now()
	var key [32]byte
	if m.cache != nil {
		key = digest(token)
		if e, ok := m.cache.Get(key); ok && !e.dead.Load() && m.fresh(now) {
			if _, ok := m.tok.keys.verifier(e.kid, now); !ok {
				return Session{}, tokenErr(ErrUnknownKey, nil)
			}
			s := e.s
			s.LastSeen = time.Unix(0, e.lastSeen.Load())
			if !now.Before(e.until) {
				return Session{}, tokenErr(ErrExpired, nil)
			}
			if now.Before(s.IdleDeadline()) && !now.Add(m.o.leeway).Before(s.Created) &&
				now.Sub(e.checked) < epochTTL && !now.Before(e.checked) {
				if m.o.observer != nil {
					m.o.observer.Lookup(ctx, true, true)
				}
				return s, nil
			}
			// Idle here; perhaps refreshed in another process: ask the store.
		}
	}
	s, _, err := m.load(ctx, token, key, now)
	if m.o.observer != nil {
		m.o.observer.Lookup(ctx, false, err == nil)
	}
	return s, err
}

// load verifies the token, reads its record and checks it, and caches the
// result. It returns the cache entry if it made one.
func (m *Manager) load(ctx context.Context, token string, key [32]byte, now time.Time) (Session, *entry, error) {
	seq := m.seq.Load()
	fresh := m.fresh(now)
	p, err := m.tok.parse(token)
	if err != nil {
		return Session{}, nil, err
	}
	s, err := m.store.Get(ctx, p.sid)
	switch {
	case errors.Is(err, ErrNotFound):
		return Session{}, nil, tokenErr(ErrNoSession, nil)
	case err != nil:
		return Session{}, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := m.check(ctx, s, p, now); err != nil {
		return Session{}, nil, err
	}
	if m.cache == nil || !fresh || m.seq.Load() != seq {
		return s, nil, nil
	}
	e := &entry{s: s, key: key, kid: p.kid, until: s.Expires, checked: now}
	if u := p.expires.Add(m.o.leeway); u.Before(e.until) {
		e.until = u
	}
	e.lastSeen.Store(s.LastSeen.UnixNano())
	m.cache.Add(key, e)
	// One cached entry per session: a session may reach us as more than
	// one token string (an ECDSA signature has two valid encodings), and
	// an invalidation names the session, so any other entry goes.
	if prev, ok := m.byID.Swap(s.ID, e); ok && prev.(*entry) != e {
		old := prev.(*entry)
		old.dead.Store(true)
		if old.key != key {
			m.cache.Remove(old.key)
		}
	}
	if m.seq.Load() != seq { // an invalidation arrived while storing: undo
		e.dead.Store(true)
		m.cache.Remove(key)
		m.byID.CompareAndDelete(s.ID, e)
	}
	return s, e, nil
}

// check decides whether a stored record backs a verified token at now.
func (m *Manager) check(ctx context.Context, s Session, p parsed, now time.Time) error {
	if s.Subject != p.subject || s.ID != p.sid {
		return tokenErr(ErrNoSession, errors.New("record does not match the token"))
	}
	if !now.Before(s.Expires) {
		return tokenErr(ErrExpired, nil)
	}
	// Another process, whose clock may run ahead of ours by up to the
	// leeway, may have created the session.
	if now.Add(m.o.leeway).Before(s.Created) {
		return tokenErr(ErrNotYetValid, nil)
	}
	if !now.Before(s.IdleDeadline()) {
		return tokenErr(ErrIdle, nil)
	}
	r, err := m.revocations(ctx, s.Subject, now)
	if err != nil {
		return fmt.Errorf("%w: revocations: %w", ErrUnavailable, err)
	}
	if r.Revoked(s) {
		return tokenErr(ErrNoSession, errors.New("revoked"))
	}
	return nil
}

// revocations returns the subject's durable revocations, from memory if
// read within epochTTL.
func (m *Manager) revocations(ctx context.Context, subject string, now time.Time) (Revocations, error) {
	m.epochMu.Lock()
	e, ok := m.epochCache[subject]
	m.epochMu.Unlock()
	if ok && now.Sub(e.fetched) < epochTTL && !now.Before(e.fetched) {
		return e.r, nil
	}
	seq := m.seq.Load()
	r, err := m.epochs.Revocations(ctx, subject, now)
	if err != nil {
		return Revocations{}, err
	}
	if m.seq.Load() == seq {
		m.epochMu.Lock()
		if len(m.epochCache) >= max(m.o.cacheSize, 1024) {
			clear(m.epochCache)
		}
		m.epochCache[subject] = epochEntry{r: r, fetched: now}
		m.epochMu.Unlock()
	}
	return r, nil
}

// forget drops the subject's cached revocations.
func (m *Manager) forget(subject string) {
	m.epochMu.Lock()
	delete(m.epochCache, subject)
	m.epochMu.Unlock()
}
