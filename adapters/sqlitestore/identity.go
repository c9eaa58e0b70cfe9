package sqlitestore

import (
	"context"

	"gorm.io/gorm"

	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/session/signin"
)

// MigrateIdentity creates the tables the sign-in service keeps in the
// embedded database, if missing, in one transaction: iam_users,
// iam_passwords, iam_totp, iam_recovery_codes and iam_login_counters (see
// pgstore.MigrateIdentity; the DDL is the same). It is idempotent.
func MigrateIdentity(ctx context.Context, db *gorm.DB) error {
	return gormstore.MigrateIdentity(ctx, db, "sqlitestore")
}

// NewIdentityStore returns the sign-in service's store on db (a SQLite
// handle, such as [Store.DB] of a Store from [Open]). It runs no
// statement. Every compare-and-set is one conditional UPDATE, serialised
// by SQLite's write lock.
func NewIdentityStore(db *gorm.DB) (signin.Store, error) {
	return gormstore.NewIdentityStore(db, "sqlitestore")
}
