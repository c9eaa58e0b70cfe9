package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/civic-platform/security/rbac"
)

// Store is a policy held in memory. It is safe for concurrent use.
type Store struct {
	mu  sync.RWMutex
	m   rbac.Model
	rev int64
}

// New returns a Store holding a copy of m at revision 1. m must compile;
// otherwise New returns rbac.Compile's error, which wraps
// rbac.ErrInvalidInput.
func New(m rbac.Model) (*Store, error) {
	m = m.Clone()
	if _, err := rbac.Compile(m); err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	return &Store{m: m, rev: 1}, nil
}

// LoadPolicy returns a copy of the model and its revision. It fails only
// if ctx is already done.
func (s *Store) LoadPolicy(ctx context.Context) (rbac.Model, int64, error) {
	if err := ctx.Err(); err != nil {
		return rbac.Model{}, 0, fmt.Errorf("memstore: load policy: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m.Clone(), s.rev, nil
}

// Apply applies c and returns the new revision, one more than the last.
// The resulting model is compiled before it replaces the current one, so
// a change that is invalid or empty (rbac.ErrInvalidInput), names something
// missing (rbac.ErrNotFound) or breaks a conflict rule (rbac.ErrConflict)
// is refused and changes nothing.
func (s *Store) Apply(ctx context.Context, c rbac.Change) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: apply: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next, _, err := rbac.Update(s.m, c) // a deep copy, compiled
	if err != nil {
		return 0, fmt.Errorf("memstore: apply: %w", err)
	}
	s.m = next
	s.rev++
	return s.rev, nil
}

// Replace replaces the whole model with a copy of m and returns the new
// revision. An m that does not compile is refused and changes nothing.
func (s *Store) Replace(ctx context.Context, m rbac.Model) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: replace: %w", err)
	}
	m = m.Clone()
	if _, err := rbac.Compile(m); err != nil { // outside the lock: pure
		return 0, fmt.Errorf("memstore: replace: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = m
	s.rev++
	return s.rev, nil
}
