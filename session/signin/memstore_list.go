package signin

import (
	"context"
	"slices"
	"strings"
)

// ListUsers returns up to limit users whose id sorts after after, in id
// order (a page of a user directory).
func (m *MemStore) ListUsers(_ context.Context, after string, limit int) ([]User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]User, 0, min(limit, len(m.users)))
	for _, u := range m.users {
		if u.ID > after {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.ID, b.ID) })
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
