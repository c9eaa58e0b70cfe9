package sqlitestore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/session"
)

// Epochs keeps durable session revocations in the embedded SQLite store, next to the
// policy: a session.EpochStore for session.WithEpochs. Tables
// iam_session_epoch (subject varchar(256) primary key, epoch bigint: Unix
// ns) and iam_session_revoked (session_id varchar(64) primary key, subject,
// until bigint), created by [MigrateEpochs]. It is safe for concurrent use
// by goroutines and processes; a raise never lowers the stored epoch.
type Epochs struct{ e *gormstore.Epochs }

// NewEpochs returns an epoch store on db. It runs no statement.
func NewEpochs(db *gorm.DB) (*Epochs, error) {
	e, err := gormstore.NewEpochs(db, dialect())
	if err != nil {
		return nil, err
	}
	return &Epochs{e: e}, nil
}

// MigrateEpochs creates the epoch and revoked-session tables if they are
// missing. It is idempotent; run it from your migration step, like
// [Migrate].
func MigrateEpochs(ctx context.Context, db *gorm.DB) error {
	return gormstore.MigrateEpochs(ctx, db, dialect())
}

// Revocations returns the subject's epoch and its sessions revoked one at a
// time that have not expired at now. A subject that is empty or longer
// than 256 bytes is an error.
func (e *Epochs) Revocations(ctx context.Context, subject string, now time.Time) (session.Revocations, error) {
	epoch, ids, err := e.e.Revocations(ctx, subject, now)
	return session.Revocations{Epoch: epoch, Sessions: ids}, err
}

// RaiseEpoch raises the subject's epoch to at and returns the stored one.
func (e *Epochs) RaiseEpoch(ctx context.Context, subject string, at time.Time) (time.Time, error) {
	return e.e.RaiseEpoch(ctx, subject, at)
}

// RevokeSession records that session id of subject is revoked until until.
func (e *Epochs) RevokeSession(ctx context.Context, subject, id string, until time.Time) error {
	return e.e.RevokeSession(ctx, subject, id, until)
}
