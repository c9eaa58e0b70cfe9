package pgstore_test

import (
	"context"
	"testing"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/sessiontest"
)

var _ session.EpochStore = (*pgstore.Epochs)(nil)

// TestEpochs runs the EpochStore conformance test on PostgreSQL.
func TestEpochs(t *testing.T) {
	t.Parallel()
	db := testdb.Postgres(t)
	e, err := pgstore.NewEpochs(db)
	if err != nil {
		t.Fatal(err)
	}
	sessiontest.RunEpochs(t, e, func(ctx context.Context) error { return pgstore.MigrateEpochs(ctx, db) }, pgstore.ErrNotMigrated)
}
