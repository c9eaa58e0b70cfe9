package sso

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/civic-platform/security/rbac"
)

// Link attaches an external identity (provider, stable key) to one user.
type Link struct {
	Provider, Key string
	UserID        string
	Created       time.Time
	// Grants and Groups are what the provider's mappings applied at the
	// last sign-in, so the next sign-in can take back what no longer
	// matches.
	Grants []rbac.GrantKey
	Groups []rbac.Subject
}

// Links keeps external identity links. (Provider, Key) is unique: an
// identity maps to one user. A user may have links from several providers.
// [NewMemLinks] is one; adapters/pgstore and adapters/sqlitestore provide
// SQL ones.
type Links interface {
	// Link returns the link of (provider, key); ErrNotFound if none.
	Link(ctx context.Context, provider, key string) (Link, error)
	// CreateLink stores l; ErrExists if (provider, key) is linked.
	CreateLink(ctx context.Context, l Link) error
	// SetMapped records what the mappings applied; ErrNotFound if the
	// link is gone.
	SetMapped(ctx context.Context, provider, key string, grants []rbac.GrantKey, groups []rbac.Subject) error
}

// MemLinks is an in-memory [Links] for tests, examples and single-process
// services. Safe for concurrent use.
type MemLinks struct {
	mu    sync.Mutex
	links map[[2]string]Link
}

// NewMemLinks returns an empty MemLinks.
func NewMemLinks() *MemLinks { return &MemLinks{links: map[[2]string]Link{}} }

// Link implements [Links].
func (m *MemLinks) Link(_ context.Context, provider, key string) (Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[[2]string{provider, key}]
	if !ok {
		return Link{}, ErrNotFound
	}
	l.Grants, l.Groups = slices.Clone(l.Grants), slices.Clone(l.Groups)
	return l, nil
}

// CreateLink implements [Links].
func (m *MemLinks) CreateLink(_ context.Context, l Link) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{l.Provider, l.Key}
	if _, ok := m.links[k]; ok {
		return ErrExists
	}
	l.Grants, l.Groups = slices.Clone(l.Grants), slices.Clone(l.Groups)
	m.links[k] = l
	return nil
}

// SetMapped implements [Links].
func (m *MemLinks) SetMapped(_ context.Context, provider, key string, grants []rbac.GrantKey, groups []rbac.Subject) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{provider, key}
	l, ok := m.links[k]
	if !ok {
		return ErrNotFound
	}
	l.Grants, l.Groups = slices.Clone(grants), slices.Clone(groups)
	m.links[k] = l
	return nil
}

// Count returns the number of links (for tests).
func (m *MemLinks) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.links)
}
