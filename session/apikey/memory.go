package apikey

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a Store in memory, for tests, examples and
// single-process services.
type MemoryStore struct {
	mu       sync.Mutex
	accounts map[string]Account
	keys     map[string]Key
	// Touches counts TouchKeys calls, so tests can see batching.
	touches int
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{accounts: map[string]Account{}, keys: map[string]Key{}}
}

func cloneKey(k Key) Key {
	k.Narrowing.Permissions = slices.Clone(k.Narrowing.Permissions)
	k.Narrowing.Scopes = slices.Clone(k.Narrowing.Scopes)
	return k
}

// CreateAccount implements Store.
func (m *MemoryStore) CreateAccount(_ context.Context, a Account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[a.ID]; ok {
		return fmt.Errorf("%w: service account %q", ErrExists, a.ID)
	}
	m.accounts[a.ID] = a
	return nil
}

// SetAccountStatus implements Store.
func (m *MemoryStore) SetAccountStatus(_ context.Context, id string, s AccountStatus, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok {
		return ErrNotFound
	}
	a.Status, a.Changed = s, at
	m.accounts[id] = a
	return nil
}

// DeleteAccount implements Store.
func (m *MemoryStore) DeleteAccount(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[id]; !ok {
		return ErrNotFound
	}
	delete(m.accounts, id)
	for kid, k := range m.keys {
		if k.Account == id {
			delete(m.keys, kid)
		}
	}
	return nil
}

// Account implements Store.
func (m *MemoryStore) Account(_ context.Context, id string) (Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok {
		return Account{}, ErrNotFound
	}
	return a, nil
}

// Accounts implements Store.
func (m *MemoryStore) Accounts(context.Context) ([]Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Account, 0, len(m.accounts))
	for _, a := range m.accounts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Account) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// CreateKey implements Store.
func (m *MemoryStore) CreateKey(_ context.Context, k Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.createKey(k)
}

func (m *MemoryStore) createKey(k Key) error {
	if _, ok := m.keys[k.ID]; ok {
		return fmt.Errorf("%w: key %q", ErrExists, k.ID)
	}
	if _, ok := m.accounts[k.Account]; !ok {
		return fmt.Errorf("%w: service account %q", ErrNotFound, k.Account)
	}
	m.keys[k.ID] = cloneKey(k)
	return nil
}

// Key implements Store.
func (m *MemoryStore) Key(_ context.Context, id string) (Key, Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return Key{}, Account{}, ErrNotFound
	}
	return cloneKey(k), m.accounts[k.Account], nil
}

// Keys implements Store.
func (m *MemoryStore) Keys(_ context.Context, account string) ([]Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Key
	for _, k := range m.keys {
		if account == "" || k.Account == account {
			out = append(out, cloneKey(k))
		}
	}
	sortKeys(out)
	return out, nil
}

func sortKeys(ks []Key) {
	slices.SortFunc(ks, func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
}

// Rotate implements Store.
func (m *MemoryStore) Rotate(_ context.Context, old, next Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.keys[old.ID]
	if !ok {
		return ErrNotFound
	}
	if !cur.Revoked.IsZero() || cur.ReplacedBy != "" {
		return fmt.Errorf("%w: key %s was revoked or rotated meanwhile", ErrState, old.ID)
	}
	if err := m.createKey(next); err != nil {
		return err
	}
	cur.ReplacedBy, cur.Retires = next.ID, old.Retires
	m.keys[old.ID] = cur
	return nil
}

// RevokeKey implements Store.
func (m *MemoryStore) RevokeKey(_ context.Context, id string, at time.Time) (Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return Key{}, ErrNotFound
	}
	if k.Revoked.IsZero() {
		k.Revoked = at
		m.keys[id] = k
	}
	return cloneKey(k), nil
}

// TouchKeys implements Store.
func (m *MemoryStore) TouchKeys(_ context.Context, used map[string]time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.touches++
	for id, t := range used {
		if k, ok := m.keys[id]; ok && t.After(k.LastUsed) {
			k.LastUsed = t
			m.keys[id] = k
		}
	}
	return nil
}

// Touches returns how many TouchKeys batches the store has received.
func (m *MemoryStore) Touches() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.touches
}
