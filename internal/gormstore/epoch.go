package gormstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// EpochTable holds session revocation epochs: one row per subject whose
// sessions were all revoked, with the instant (Unix ns) before which its
// sessions are refused.
//
//	CREATE TABLE iam_session_epoch (
//		subject varchar(256) PRIMARY KEY,
//		epoch   bigint NOT NULL
//	)
const EpochTable = "iam_session_epoch"

// MaxEpochSubject is the longest subject the epoch table holds, in bytes.
const MaxEpochSubject = 256

// ErrEpochSubject is wrapped when a subject is empty or longer than
// MaxEpochSubject.
var ErrEpochSubject = errors.New("subject must be 1-256 bytes")

// Epochs keeps session revocation epochs (session.EpochStore) through
// gorm. It is safe for concurrent use by goroutines and processes: a raise
// is one upsert that never lowers the stored value.
type Epochs struct {
	db *gorm.DB
	d  Dialect
}

// NewEpochs returns an epoch store on db; it runs no statement.
func NewEpochs(db *gorm.DB, d Dialect) (*Epochs, error) {
	if db == nil {
		return nil, fmt.Errorf("%s: NewEpochs: nil *gorm.DB", d.Name)
	}
	return &Epochs{db: db.Session(&gorm.Session{NewDB: true}), d: d}, nil
}

// MigrateEpochs creates the epoch table if it is missing. It is idempotent.
func MigrateEpochs(ctx context.Context, db *gorm.DB, d Dialect) error {
	if db == nil {
		return fmt.Errorf("%s: MigrateEpochs: nil *gorm.DB", d.Name)
	}
	err := db.Session(&gorm.Session{NewDB: true, Context: ctx}).
		Exec("CREATE TABLE IF NOT EXISTS " + EpochTable + " (subject varchar(256) PRIMARY KEY, epoch bigint NOT NULL)").Error
	if err != nil {
		return fmt.Errorf("%s: migrate epochs: %w", d.Name, err)
	}
	return nil
}

func checkSubject(name, subject string) error {
	if subject == "" || len(subject) > MaxEpochSubject {
		return fmt.Errorf("%s: epoch: %w", name, ErrEpochSubject)
	}
	return nil
}

// Epoch returns the subject's epoch, or the zero time if it has none.
func (e *Epochs) Epoch(ctx context.Context, subject string) (time.Time, error) {
	if err := checkSubject(e.d.Name, subject); err != nil {
		return time.Time{}, err
	}
	var rows []struct{ Epoch int64 }
	if err := e.db.WithContext(ctx).Raw("SELECT epoch FROM "+EpochTable+" WHERE subject = ?", subject).Scan(&rows).Error; err != nil {
		return time.Time{}, e.fail(ctx, "read epoch", err)
	}
	if len(rows) == 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, rows[0].Epoch), nil
}

// RaiseEpoch sets the subject's epoch to at unless the stored one is later,
// and returns the stored epoch.
func (e *Epochs) RaiseEpoch(ctx context.Context, subject string, at time.Time) (time.Time, error) {
	if err := checkSubject(e.d.Name, subject); err != nil {
		return time.Time{}, err
	}
	var rows []struct{ Epoch int64 }
	err := e.db.WithContext(ctx).Raw("INSERT INTO "+EpochTable+" (subject, epoch) VALUES (?, ?) "+
		"ON CONFLICT (subject) DO UPDATE SET epoch = CASE WHEN excluded.epoch > "+EpochTable+".epoch THEN excluded.epoch ELSE "+EpochTable+".epoch END "+
		"RETURNING epoch", subject, at.UnixNano()).Scan(&rows).Error
	if err != nil {
		return time.Time{}, e.fail(ctx, "raise epoch", err)
	}
	if len(rows) != 1 {
		return time.Time{}, fmt.Errorf("%s: raise epoch: %d rows returned", e.d.Name, len(rows))
	}
	return time.Unix(0, rows[0].Epoch), nil
}

func (e *Epochs) fail(ctx context.Context, op string, err error) error {
	if ctx.Err() == nil {
		var r struct{ N int64 }
		if terr := e.db.WithContext(ctx).Raw(e.d.TableExists, EpochTable).Scan(&r).Error; terr == nil && r.N == 0 {
			return fmt.Errorf("%s: %s: %w: table %s does not exist; run %s.MigrateEpochs (%w)", e.d.Name, op, ErrNotMigrated, EpochTable, e.d.Name, err)
		}
	}
	return fmt.Errorf("%s: %s: %w", e.d.Name, op, err)
}
