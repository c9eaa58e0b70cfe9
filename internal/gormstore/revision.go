package gormstore

import (
	"context"
)

// Revision returns the stored revision without loading the policy: one
// read of the one-row revision table, so that a reader can confirm
// cheaply that the policy it holds is still current (iam.RevisionSource).
// A database without the table or its row gives an error wrapping
// [ErrNotMigrated].
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var r struct{ Revision int64 }
	res := s.db.WithContext(ctx).Raw("SELECT revision FROM " + RevisionTable + " WHERE id = 1").Scan(&r)
	if res.Error != nil {
		return 0, s.fail(ctx, "revision", res.Error)
	}
	if res.RowsAffected == 0 {
		return 0, s.fail(ctx, "revision", errNoRevisionRow)
	}
	return r.Revision, nil
}
