package gormstore

import (
	"context"

	"github.com/civic-platform/security/session/signin"
)

// ListUsers returns up to limit users whose id sorts after after, in id
// order (a page of a user directory).
func (s *IdentityStore) ListUsers(ctx context.Context, after string, limit int) ([]signin.User, error) {
	if limit <= 0 {
		return []signin.User{}, nil
	}
	var rows []userRow
	if err := s.conn(ctx).Raw("SELECT "+userCols+" FROM "+UsersTable+" WHERE id > ? ORDER BY id LIMIT ?", after, limit).Scan(&rows).Error; err != nil {
		return nil, s.wrap("list users", err)
	}
	out := make([]signin.User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, nil
}
