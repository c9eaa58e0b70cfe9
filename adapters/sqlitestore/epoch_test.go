package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/sessiontest"
)

var _ session.EpochStore = (*sqlitestore.Epochs)(nil)

// TestEpochs runs the EpochStore conformance test on the embedded store.
func TestEpochs(t *testing.T) {
	t.Parallel()
	db := sqliteDB(t)
	e, err := sqlitestore.NewEpochs(db)
	if err != nil {
		t.Fatal(err)
	}
	sessiontest.RunEpochs(t, e, func(ctx context.Context) error { return sqlitestore.MigrateEpochs(ctx, db) }, sqlitestore.ErrNotMigrated)
}

func sqliteDB(t *testing.T) *gorm.DB {
	t.Helper()
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "iam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.DB()
}
