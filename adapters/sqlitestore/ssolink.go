package sqlitestore

import (
	"context"

	"gorm.io/gorm"

	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/session/sso"
)

// MigrateSSOLinks creates iam_sso_links, the table of external identity
// links (provider, stable subject key) → user, if missing. Run it after
// [MigrateIdentity]: a link references its user and is deleted with it.
// It is idempotent.
func MigrateSSOLinks(ctx context.Context, db *gorm.DB) error {
	return gormstore.MigrateSSOLinks(ctx, db, "sqlitestore")
}

// NewSSOLinks returns session/sso's link store on db. It runs no
// statement. (provider, key) is the primary key, so two processes linking
// one identity at once leave one link (the other gets sso.ErrExists).
func NewSSOLinks(db *gorm.DB) (sso.Links, error) {
	return gormstore.NewSSOLinks(db, "sqlitestore")
}
