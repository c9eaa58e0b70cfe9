package pgstore

import (
	"context"

	"gorm.io/gorm"

	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/session/apikey"
)

// MigrateAPIKeys creates the tables of service accounts and API keys in
// PostgreSQL, if missing, in one transaction: iam_service_accounts (owner,
// department, description, status) and iam_api_keys (account, name, the
// HMAC of the secret in hex, creation, expiry, narrowing, rotation links,
// overlap deadline, revocation, last use). It is idempotent; run it from
// your migration step, like [Migrate].
func MigrateAPIKeys(ctx context.Context, db *gorm.DB) error {
	return gormstore.MigrateAPIKeys(ctx, db, "pgstore")
}

// NewAPIKeyStore returns the API key Manager's store on db (a PostgreSQL
// handle). It runs no statement.
func NewAPIKeyStore(db *gorm.DB) (apikey.Store, error) {
	return gormstore.NewAPIKeyStore(db, "pgstore")
}
