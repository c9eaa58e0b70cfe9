package signin

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemStore is a Store in process memory, for tests and examples. It is
// safe for concurrent use; every method is atomic.
type MemStore struct {
	mu        sync.Mutex
	users     map[string]User
	byEmail   map[string]string
	byEmpID   map[string]string
	passwords map[string]string
	totp      map[string]TOTPRecord
	recovery  map[string]map[string]bool // user -> hash -> used
	counters  map[string]memCounter
}

type memCounter struct {
	c       Counter
	version int64
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{
		users: map[string]User{}, byEmail: map[string]string{}, byEmpID: map[string]string{},
		passwords: map[string]string{}, totp: map[string]TOTPRecord{},
		recovery: map[string]map[string]bool{}, counters: map[string]memCounter{},
	}
}

// CreateUser implements Users.
func (m *MemStore) CreateUser(_ context.Context, u User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.ID]; ok {
		return fmt.Errorf("%w: user id", ErrExists)
	}
	if err := m.uniqueLocked(u); err != nil {
		return err
	}
	if u.Created.IsZero() {
		u.Created = time.Now()
	}
	m.put(u)
	return nil
}

func (m *MemStore) uniqueLocked(u User) error {
	if id, ok := m.byEmail[u.Email]; ok && id != u.ID {
		return fmt.Errorf("%w: email", ErrExists)
	}
	if u.EmployeeID != "" {
		if id, ok := m.byEmpID[u.EmployeeID]; ok && id != u.ID {
			return fmt.Errorf("%w: employee id", ErrExists)
		}
	}
	return nil
}

func (m *MemStore) put(u User) {
	if old, ok := m.users[u.ID]; ok {
		delete(m.byEmail, old.Email)
		delete(m.byEmpID, old.EmployeeID)
	}
	m.users[u.ID] = u
	m.byEmail[u.Email] = u.ID
	if u.EmployeeID != "" {
		m.byEmpID[u.EmployeeID] = u.ID
	}
}

// UpdateUser implements Users.
func (m *MemStore) UpdateUser(_ context.Context, u User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.users[u.ID]
	if !ok {
		return ErrNotFound
	}
	if err := m.uniqueLocked(u); err != nil {
		return err
	}
	u.Created = old.Created
	m.put(u)
	return nil
}

// User implements Users.
func (m *MemStore) User(_ context.Context, id string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return User{}, ErrNotFound
	}
	return u, nil
}

// UserByEmail implements Users.
func (m *MemStore) UserByEmail(_ context.Context, email string) (User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byEmail[email]
	if !ok {
		return User{}, ErrNotFound
	}
	return m.users[id], nil
}

// SetPasswordHash implements Credentials.
func (m *MemStore) SetPasswordHash(_ context.Context, userID, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[userID]; !ok {
		return ErrNotFound
	}
	m.passwords[userID] = hash
	return nil
}

// PasswordHash implements Credentials.
func (m *MemStore) PasswordHash(_ context.Context, userID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.passwords[userID]
	if !ok {
		return "", ErrNotFound
	}
	return h, nil
}

// ReplacePasswordHash implements Credentials.
func (m *MemStore) ReplacePasswordHash(_ context.Context, userID, prev, next string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, ok := m.passwords[userID]; !ok || h != prev {
		return false, nil
	}
	m.passwords[userID] = next
	return true, nil
}

// PutTOTP implements Credentials.
func (m *MemStore) PutTOTP(_ context.Context, userID, sealed string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[userID]; !ok {
		return ErrNotFound
	}
	if r, ok := m.totp[userID]; ok && r.Confirmed {
		return ErrAlreadyEnrolled
	}
	m.totp[userID] = TOTPRecord{Sealed: sealed}
	return nil
}

// TOTP implements Credentials.
func (m *MemStore) TOTP(_ context.Context, userID string) (TOTPRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.totp[userID]
	if !ok {
		return TOTPRecord{}, ErrNotFound
	}
	return r, nil
}

// ConfirmTOTP implements Credentials.
func (m *MemStore) ConfirmTOTP(_ context.Context, userID, sealed string, step int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.totp[userID]
	if !ok || r.Confirmed || r.Sealed != sealed || r.LastStep >= step {
		return false, nil
	}
	r.Confirmed, r.LastStep = true, step
	m.totp[userID] = r
	return true, nil
}

// AdvanceTOTP implements Credentials.
func (m *MemStore) AdvanceTOTP(_ context.Context, userID string, step int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.totp[userID]
	if !ok || !r.Confirmed || r.LastStep >= step {
		return false, nil
	}
	r.LastStep = step
	m.totp[userID] = r
	return true, nil
}

// DeleteTOTP implements Credentials.
func (m *MemStore) DeleteTOTP(_ context.Context, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.totp, userID)
	delete(m.recovery, userID)
	return nil
}

// ReplaceRecoveryCodes implements Credentials.
func (m *MemStore) ReplaceRecoveryCodes(_ context.Context, userID string, hashes []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[userID]; !ok {
		return ErrNotFound
	}
	set := make(map[string]bool, len(hashes))
	for _, h := range hashes {
		set[h] = false
	}
	m.recovery[userID] = set
	return nil
}

// UseRecoveryCode implements Credentials.
func (m *MemStore) UseRecoveryCode(_ context.Context, userID, hash string, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	used, ok := m.recovery[userID][hash]
	if !ok || used {
		return false, nil
	}
	m.recovery[userID][hash] = true
	return true, nil
}

// RecoveryCodesLeft implements Credentials.
func (m *MemStore) RecoveryCodesLeft(_ context.Context, userID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, used := range m.recovery[userID] {
		if !used {
			n++
		}
	}
	return n, nil
}

// LoadCounter implements Counters.
func (m *MemStore) LoadCounter(_ context.Context, key string) (Counter, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counters[key]
	return c.c, c.version, nil
}

// SaveCounter implements Counters.
func (m *MemStore) SaveCounter(_ context.Context, key string, c Counter, version int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counters[key].version != version {
		return false, nil
	}
	m.counters[key] = memCounter{c: c, version: version + 1}
	return true, nil
}

// DeleteCounter implements Counters.
func (m *MemStore) DeleteCounter(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.counters, key)
	return nil
}

// PruneCounters implements Counters.
func (m *MemStore) PruneCounters(_ context.Context, before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, c := range m.counters {
		if c.c.WindowStart.Before(before) && c.c.LockedUntil.Before(before) {
			delete(m.counters, k)
			n++
		}
	}
	return n, nil
}
