package iamtest

import (
	"context"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/rbac"
)

// NewStore returns an in-memory [iam.PolicySource] and [iam.PolicyWriter]
// (a [memstore.Store]) holding m at revision 1. If m is invalid, LoadPolicy
// reports why, so [iam.New] fails with that error.
func NewStore(m rbac.Model) *Store {
	mem, err := memstore.New(m)
	return &Store{mem: mem, err: err}
}

// Store is an in-memory policy store for tests. It is safe for concurrent use.
type Store struct {
	mem *memstore.Store
	err error // why the initial model was refused
}

// LoadPolicy returns a copy of the current model and its revision.
func (s *Store) LoadPolicy(ctx context.Context) (rbac.Model, int64, error) {
	if s.err != nil {
		return rbac.Model{}, 0, s.err
	}
	return s.mem.LoadPolicy(ctx)
}

// LoadCompiled is LoadPolicy that also returns the compiled policy
// ([iam.CompiledSource]).
func (s *Store) LoadCompiled(ctx context.Context, after int64) (rbac.Model, *rbac.Policy, int64, error) {
	if s.err != nil {
		return rbac.Model{}, nil, 0, s.err
	}
	return s.mem.LoadCompiled(ctx, after)
}

// Apply validates c against the current model and applies it atomically,
// returning the new revision. A refused change leaves the store untouched.
func (s *Store) Apply(ctx context.Context, c rbac.Change) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	return s.mem.Apply(ctx, c)
}
