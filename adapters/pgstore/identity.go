package pgstore

import (
	"context"

	"gorm.io/gorm"

	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/session/signin"
)

// MigrateIdentity creates the tables the sign-in service keeps in
// PostgreSQL, if missing, in one transaction: iam_users (employee id,
// email, display name, language en/fr, department, status),
// iam_passwords (argon2id PHC hashes), iam_totp (the sealed secret, a
// confirmed flag and the last accepted time step), iam_recovery_codes
// (SHA-256 hashes, used_at) and iam_login_counters (lockout state with a
// version for compare-and-set). It is idempotent; run it from your
// migration step, like [Migrate].
func MigrateIdentity(ctx context.Context, db *gorm.DB) error {
	return gormstore.MigrateIdentity(ctx, db, "pgstore")
}

// NewIdentityStore returns the sign-in service's store on db (a
// PostgreSQL handle). It runs no statement. The TOTP step, recovery
// codes and lockout counters change only by conditional UPDATEs, so they
// stay exact under parallel requests from any number of processes.
func NewIdentityStore(db *gorm.DB) (signin.Store, error) {
	return gormstore.NewIdentityStore(db, "pgstore")
}
