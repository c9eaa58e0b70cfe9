package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/civic-platform/security/rbac"
)

// Store is a policy held in memory. It is safe for concurrent use.
type Store struct {
	mu  sync.RWMutex
	m   rbac.Model
	p   *rbac.Policy // m compiled; shared with readers, never modified
	rev int64
}

// New returns a Store holding a copy of m at revision 1. m must compile;
// otherwise New returns rbac.Compile's error, which wraps
// rbac.ErrInvalidInput. m is the starting state, not a write: violations
// of conflict rules it already holds are kept and reported, and Apply and
// Replace refuse to renew or enlarge them.
func New(m rbac.Model) (*Store, error) {
	m = m.Clone()
	p, err := rbac.Compile(m)
	if err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	return &Store{m: m, p: p, rev: 1}, nil
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

// LoadCompiled is LoadPolicy that also returns the compiled policy, which
// the store keeps from validating the last change (iam.CompiledSource).
// When the revision is not above after, it returns only the revision.
func (s *Store) LoadCompiled(ctx context.Context, after int64) (rbac.Model, *rbac.Policy, int64, error) {
	if err := ctx.Err(); err != nil {
		return rbac.Model{}, nil, 0, fmt.Errorf("memstore: load policy: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.rev <= after {
		return rbac.Model{}, nil, s.rev, nil
	}
	return s.m.Clone(), s.p, s.rev, nil
}

// Apply applies c and returns the new revision, one more than the last.
// The resulting model is compiled before it replaces the current one, so
// a change that is invalid or empty (rbac.ErrInvalidInput), names something
// missing (rbac.ErrNotFound) or breaks a conflict rule (rbac.ErrConflict)
// is refused and changes nothing. A zero c.At is the current time.
func (s *Store) Apply(ctx context.Context, c rbac.Change) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: apply: %w", err)
	}
	if c.At.IsZero() {
		c.At = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Update checks c's preconditions (rbac.Change.ExpectGrants) against
	// the model under the lock: compare and write are one step.
	next, p, err := rbac.Update(s.m, c) // a deep copy, compiled
	if err != nil {
		return 0, fmt.Errorf("memstore: apply: %w", err)
	}
	s.m, s.p = next, p
	s.rev++
	return s.rev, nil
}

// Replace replaces the whole model with a copy of m and returns the new
// revision. An m that does not compile is refused and changes nothing, and
// so is one that creates or enlarges a violation of a conflict rule that
// no waiver in force permits (rbac.CheckReplace against the current model,
// now; rbac.ErrConflict).
func (s *Store) Replace(ctx context.Context, m rbac.Model) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: replace: %w", err)
	}
	m = m.Clone()
	p, err := rbac.Compile(m) // outside the lock: pure
	if err != nil {
		return 0, fmt.Errorf("memstore: replace: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := rbac.CheckReplace(s.m, p, time.Now()); err != nil {
		return 0, fmt.Errorf("memstore: replace: %w", err)
	}
	if err := rbac.CheckEmergencyReplace(s.m, m, time.Now()); err != nil {
		return 0, fmt.Errorf("memstore: replace: %w", err)
	}
	s.m, s.p = m, p
	s.rev++
	return s.rev, nil
}
