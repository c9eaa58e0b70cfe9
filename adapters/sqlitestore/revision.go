package sqlitestore

import "context"

// Revision returns the stored revision without loading the policy (one
// single-row read), so that iam can confirm cheaply that its snapshot is
// current; it implements iam.RevisionSource.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	return s.s.Revision(ctx)
}
