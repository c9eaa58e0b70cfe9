package gormstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
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

// RevokedTable holds sessions revoked one at a time, until they would have
// expired (Unix ns); rows past that are pruned.
//
//	CREATE TABLE iam_session_revoked (
//		session_id varchar(64) PRIMARY KEY,
//		subject    varchar(256) NOT NULL,
//		until      bigint NOT NULL
//	)
//	CREATE INDEX iam_session_revoked_subject ON iam_session_revoked (subject)
const RevokedTable = "iam_session_revoked"

// MaxSessionID is the longest session id RevokedTable holds, in bytes.
const MaxSessionID = 64

// MaxEpochSubject is the longest subject the epoch table holds, in bytes.
const MaxEpochSubject = 256

// ErrEpochSubject is wrapped when a subject is empty or longer than
// MaxEpochSubject, or a session id empty or longer than MaxSessionID.
var ErrEpochSubject = errors.New("subject must be 1-256 bytes, session id 1-64")

// Epochs keeps session revocation epochs (session.EpochStore) through
// gorm. It is safe for concurrent use by goroutines and processes: a raise
// is one upsert that never lowers the stored value.
type Epochs struct {
	db     *gorm.DB
	d      Dialect
	writes atomic.Uint64 // every pruneEvery-th RevokeSession prunes
}

// pruneEvery is how often RevokeSession removes expired rows.
const pruneEvery = 64

// NewEpochs returns an epoch store on db; it runs no statement.
func NewEpochs(db *gorm.DB, d Dialect) (*Epochs, error) {
	if db == nil {
		return nil, fmt.Errorf("%s: NewEpochs: nil *gorm.DB", d.Name)
	}
	return &Epochs{db: db.Session(&gorm.Session{NewDB: true}), d: d}, nil
}

// MigrateEpochs creates the epoch and revoked-session tables if they are
// missing, in one transaction. It is idempotent.
func MigrateEpochs(ctx context.Context, db *gorm.DB, d Dialect) error {
	if db == nil {
		return fmt.Errorf("%s: MigrateEpochs: nil *gorm.DB", d.Name)
	}
	err := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Transaction(func(tx *gorm.DB) error {
		for _, stmt := range []string{
			"CREATE TABLE IF NOT EXISTS " + EpochTable + " (subject varchar(256) PRIMARY KEY, epoch bigint NOT NULL)",
			"CREATE TABLE IF NOT EXISTS " + RevokedTable + " (session_id varchar(64) PRIMARY KEY, subject varchar(256) NOT NULL, until bigint NOT NULL)",
			"CREATE INDEX IF NOT EXISTS " + RevokedTable + "_subject ON " + RevokedTable + " (subject)",
		} {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		return nil
	})
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

// Revocations returns the subject's epoch (zero if none) and the ids of its
// sessions revoked one at a time whose until is after now, read in one
// statement.
func (e *Epochs) Revocations(ctx context.Context, subject string, now time.Time) (epoch time.Time, sessions []string, err error) {
	if err := checkSubject(e.d.Name, subject); err != nil {
		return time.Time{}, nil, err
	}
	var rows []struct {
		Kind int
		ID   string
		At   int64
	}
	err = e.db.WithContext(ctx).Raw("SELECT 0 AS kind, '' AS id, epoch AS at FROM "+EpochTable+" WHERE subject = ? "+
		"UNION ALL SELECT 1 AS kind, session_id AS id, until AS at FROM "+RevokedTable+" WHERE subject = ? AND until > ?",
		subject, subject, now.UnixNano()).Scan(&rows).Error
	if err != nil {
		return time.Time{}, nil, e.fail(ctx, "read revocations", err)
	}
	for _, r := range rows {
		if r.Kind == 0 {
			epoch = time.Unix(0, r.At)
		} else {
			sessions = append(sessions, r.ID)
		}
	}
	return epoch, sessions, nil
}

// RevokeSession records that session id of subject is revoked until
// until. Every pruneEvery calls it also removes rows whose until passed.
func (e *Epochs) RevokeSession(ctx context.Context, subject, id string, until time.Time) error {
	if err := checkSubject(e.d.Name, subject); err != nil {
		return err
	}
	if id == "" || len(id) > MaxSessionID {
		return fmt.Errorf("%s: revoke session: %w", e.d.Name, ErrEpochSubject)
	}
	err := e.db.WithContext(ctx).Exec("INSERT INTO "+RevokedTable+" (session_id, subject, until) VALUES (?, ?, ?) "+
		"ON CONFLICT (session_id) DO UPDATE SET until = CASE WHEN excluded.until > "+RevokedTable+".until THEN excluded.until ELSE "+RevokedTable+".until END",
		id, subject, until.UnixNano()).Error
	if err != nil {
		return e.fail(ctx, "revoke session", err)
	}
	if e.writes.Add(1)%pruneEvery == 0 {
		// Best effort: a failed prune leaves rows that are pruned later.
		_ = e.db.WithContext(ctx).Exec("DELETE FROM "+RevokedTable+" WHERE until < ?", time.Now().UnixNano()).Error
	}
	return nil
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
		for _, table := range []string{EpochTable, RevokedTable} {
			if terr := e.db.WithContext(ctx).Raw(e.d.TableExists, table).Scan(&r).Error; terr == nil && r.N == 0 {
				return fmt.Errorf("%s: %s: %w: table %s does not exist; run %s.MigrateEpochs (%w)", e.d.Name, op, ErrNotMigrated, table, e.d.Name, err)
			}
		}
	}
	return fmt.Errorf("%s: %s: %w", e.d.Name, op, err)
}
