package pgstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/civic-platform/security/internal/gormstore"
)

// Epochs keeps session revocation epochs in PostgreSQL, next to the
// policy: a session.EpochStore for session.WithEpochs. Table
// iam_session_epoch (subject varchar(256) primary key, epoch bigint: Unix
// ns), created by [MigrateEpochs]. It is safe for concurrent use by
// goroutines and processes; a raise never lowers the stored epoch.
type Epochs struct{ e *gormstore.Epochs }

// NewEpochs returns an epoch store on db. It runs no statement.
func NewEpochs(db *gorm.DB) (*Epochs, error) {
	e, err := gormstore.NewEpochs(db, dialect())
	if err != nil {
		return nil, err
	}
	return &Epochs{e: e}, nil
}

// MigrateEpochs creates the epoch table if it is missing. It is idempotent;
// run it from your migration step, like [Migrate].
func MigrateEpochs(ctx context.Context, db *gorm.DB) error {
	return gormstore.MigrateEpochs(ctx, db, dialect())
}

// Epoch returns the subject's revocation epoch (zero if none). A subject
// that is empty or longer than 256 bytes is an error.
func (e *Epochs) Epoch(ctx context.Context, subject string) (time.Time, error) {
	return e.e.Epoch(ctx, subject)
}

// RaiseEpoch raises the subject's epoch to at and returns the stored one.
func (e *Epochs) RaiseEpoch(ctx context.Context, subject string, at time.Time) (time.Time, error) {
	return e.e.RaiseEpoch(ctx, subject, at)
}
