package sqlitestore

import (
	"context"

	"gorm.io/gorm"

	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/session/apikey"
)

// MigrateAPIKeys creates the tables of service accounts and API keys in
// the embedded database, if missing, in one transaction (see
// pgstore.MigrateAPIKeys; the DDL is the same). It is idempotent.
func MigrateAPIKeys(ctx context.Context, db *gorm.DB) error {
	return gormstore.MigrateAPIKeys(ctx, db, "sqlitestore")
}

// NewAPIKeyStore returns the API key Manager's store on db (a SQLite
// handle, such as [Store.DB] of a Store from [Open]). It runs no
// statement.
func NewAPIKeyStore(db *gorm.DB) (apikey.Store, error) {
	return gormstore.NewAPIKeyStore(db, "sqlitestore")
}
