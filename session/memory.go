package session

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// MemoryStore is a [Store] in this process's memory: for tests, examples
// and single-process services on the embedded store. Several Managers in
// one process may share it; each sees the others' changes through Watch.
// Records past their idle deadline are removed as new ones are created.
//
// A MemoryStore is safe for concurrent use. The zero value is not usable;
// call [NewMemoryStore].
type MemoryStore struct {
	mu        sync.Mutex
	records   map[string]Session
	bySubject map[string]map[string]struct{}
	sweepAt   int // sweep when len(records) reaches this

	wmu      sync.Mutex // guards watchers; held while calling them
	watchers map[int]func(Change)
	nextW    int
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		records:   map[string]Session{},
		bySubject: map[string]map[string]struct{}{},
		sweepAt:   1024,
		watchers:  map[int]func(Change){},
	}
}

// Create stores s. An existing ID wraps ErrInvalidInput.
func (m *MemoryStore) Create(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.records[s.ID]; ok {
		return fmt.Errorf("%w: session id already exists", ErrInvalidInput)
	}
	if len(m.records) >= m.sweepAt {
		m.sweep(s.Created)
	}
	m.records[s.ID] = s
	ids := m.bySubject[s.Subject]
	if ids == nil {
		ids = map[string]struct{}{}
		m.bySubject[s.Subject] = ids
	}
	ids[s.ID] = struct{}{}
	return nil
}

// sweep removes records that ended before now; m.mu is held.
func (m *MemoryStore) sweep(now time.Time) {
	for id, s := range m.records {
		if !now.Before(s.IdleDeadline()) {
			m.remove(s)
			delete(m.records, id)
		}
	}
	m.sweepAt = max(1024, 2*len(m.records))
}

func (m *MemoryStore) remove(s Session) {
	if ids := m.bySubject[s.Subject]; ids != nil {
		delete(ids, s.ID)
		if len(ids) == 0 {
			delete(m.bySubject, s.Subject)
		}
	}
}

// Get returns the record, or ErrNotFound.
func (m *MemoryStore) Get(_ context.Context, id string) (Session, error) {
	m.mu.Lock()
	s, ok := m.records[id]
	m.mu.Unlock()
	if !ok {
		return Session{}, fmt.Errorf("%w: session", ErrNotFound)
	}
	return s, nil
}

// Touch sets LastSeen if the record exists.
func (m *MemoryStore) Touch(_ context.Context, id string, at time.Time) (Session, error) {
	m.mu.Lock()
	s, ok := m.records[id]
	if ok {
		s.LastSeen = at
		m.records[id] = s
	}
	m.mu.Unlock()
	if !ok {
		return Session{}, fmt.Errorf("%w: session", ErrNotFound)
	}
	m.notify(Change{SessionID: id})
	return s, nil
}

// Delete removes the record and returns it.
func (m *MemoryStore) Delete(_ context.Context, id string) (Session, error) {
	m.mu.Lock()
	s, ok := m.records[id]
	if ok {
		delete(m.records, id)
		m.remove(s)
	}
	m.mu.Unlock()
	if !ok {
		return Session{}, fmt.Errorf("%w: session", ErrNotFound)
	}
	m.notify(Change{SessionID: id})
	return s, nil
}

// List returns the subject's records, oldest first.
func (m *MemoryStore) List(_ context.Context, subject string) ([]Session, error) {
	m.mu.Lock()
	out := make([]Session, 0, len(m.bySubject[subject]))
	for id := range m.bySubject[subject] {
		out = append(out, m.records[id])
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// Clear removes every record, as a flushed Redis would, and tells the
// watchers to drop everything.
func (m *MemoryStore) Clear() {
	m.mu.Lock()
	clear(m.records)
	clear(m.bySubject)
	m.mu.Unlock()
	m.notify(Change{All: true})
}

// Watch reports every Touch and Delete made through this store, and Alive
// every interval, until ctx is done.
func (m *MemoryStore) Watch(ctx context.Context, interval time.Duration, changed func(Change)) error {
	m.wmu.Lock()
	id := m.nextW
	m.nextW++
	m.watchers[id] = changed
	m.wmu.Unlock()
	defer func() {
		m.wmu.Lock()
		delete(m.watchers, id)
		m.wmu.Unlock()
	}()
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	m.alive(id)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			m.alive(id)
		}
	}
}

func (m *MemoryStore) alive(id int) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	if fn := m.watchers[id]; fn != nil {
		fn(Change{Alive: true})
	}
}

func (m *MemoryStore) notify(c Change) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	for _, fn := range m.watchers {
		fn(c)
	}
}

// EpochStore persists revocations where losing the session store cannot
// lose them: each subject's revocation epoch (sessions of the subject
// created before it are refused: log out everywhere) and the sessions
// revoked one at a time (logout, administrative revocation) until they
// would have expired. A session store that loses or rolls back data (a
// Redis flush, a restart from an old snapshot, a failover to a replica that
// missed a deletion) therefore cannot bring a revoked session back.
// Implementations for the SQL policy stores are in adapters/pgstore and
// adapters/sqlitestore.
//
// Implementations are safe for concurrent use.
type EpochStore interface {
	// Revocations returns what is revoked for subject: its epoch (zero if
	// none) and the ids of its sessions revoked one at a time whose expiry
	// has not passed at now.
	Revocations(ctx context.Context, subject string, now time.Time) (Revocations, error)
	// RaiseEpoch sets the subject's epoch to at unless it is already
	// later, and returns the stored epoch.
	RaiseEpoch(ctx context.Context, subject string, at time.Time) (time.Time, error)
	// RevokeSession records that session id of subject is revoked; the
	// record may be forgotten after until (the session's expiry).
	RevokeSession(ctx context.Context, subject, id string, until time.Time) error
}

// Revocations is what an [EpochStore] holds for one subject.
type Revocations struct {
	// Epoch: the subject's sessions created before it are revoked.
	Epoch time.Time
	// Sessions are the ids of sessions revoked one at a time.
	Sessions []string
}

// Revoked reports whether s is revoked.
func (r Revocations) Revoked(s Session) bool {
	if s.Created.Before(r.Epoch) {
		return true
	}
	for _, id := range r.Sessions {
		if id == s.ID {
			return true
		}
	}
	return false
}

// MemoryEpochs is an [EpochStore] in memory. It is the default of a
// [Manager] and protects one process only: several processes need the
// revocations in their shared policy store.
type MemoryEpochs struct {
	mu       sync.Mutex
	epochs   map[string]time.Time
	sessions map[string]map[string]time.Time // subject -> id -> until
}

// NewMemoryEpochs returns an empty epoch store.
func NewMemoryEpochs() *MemoryEpochs {
	return &MemoryEpochs{epochs: map[string]time.Time{}, sessions: map[string]map[string]time.Time{}}
}

// Revocations returns the subject's epoch and revoked sessions.
func (e *MemoryEpochs) Revocations(_ context.Context, subject string, now time.Time) (Revocations, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := Revocations{Epoch: e.epochs[subject]}
	for id, until := range e.sessions[subject] {
		if now.Before(until) {
			r.Sessions = append(r.Sessions, id)
		} else {
			delete(e.sessions[subject], id)
		}
	}
	return r, nil
}

// RaiseEpoch raises the subject's epoch to at.
func (e *MemoryEpochs) RaiseEpoch(_ context.Context, subject string, at time.Time) (time.Time, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cur := e.epochs[subject]; cur.After(at) {
		return cur, nil
	}
	e.epochs[subject] = at
	return at, nil
}

// RevokeSession records a revoked session until its expiry.
func (e *MemoryEpochs) RevokeSession(_ context.Context, subject, id string, until time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sessions[subject] == nil {
		e.sessions[subject] = map[string]time.Time{}
	}
	e.sessions[subject][id] = until
	return nil
}
