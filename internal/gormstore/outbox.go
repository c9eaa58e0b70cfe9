package gormstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/civic-platform/security/iam"
)

// OutboxTable holds domain events written in the same transaction as the
// policy change they report, until a relay delivers them.
const OutboxTable = "iam_outbox"

// OutboxRow is one event in the outbox. Seq orders delivery; EventID is
// the event's idempotency key and unique; Payload is the event's versioned
// JSON form; DeliveredAt is set once a relay has handed it to its sink.
type OutboxRow struct {
	Seq         int64      `gorm:"column:seq;primaryKey;autoIncrement"`
	EventID     string     `gorm:"column:event_id;size:64;not null;uniqueIndex:idx_iam_outbox_event_id"`
	Type        string     `gorm:"column:type;size:100;not null"`
	Payload     string     `gorm:"column:payload;type:text;not null"`
	CreatedAt   time.Time  `gorm:"column:created_at;not null"`
	DeliveredAt *time.Time `gorm:"column:delivered_at;index:idx_iam_outbox_delivered_at"`
	Attempts    int        `gorm:"column:attempts;not null;default:0"`
	LastError   string     `gorm:"column:last_error;type:text"`
}

// TableName is [OutboxTable].
func (OutboxRow) TableName() string { return OutboxTable }

// MigrateOutbox creates the outbox table if it is missing. [Migrate] calls
// it too.
func MigrateOutbox(ctx context.Context, db *gorm.DB) error {
	m := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Migrator()
	if m.HasTable(&OutboxRow{}) {
		return nil
	}
	return m.CreateTable(&OutboxRow{})
}

func insertOutbox(tx *gorm.DB, events []iam.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]OutboxRow, len(events))
	for i, e := range events {
		if e.ID == "" {
			return errors.New("outbox: event without an id")
		}
		if e.Version == 0 {
			e.Version = iam.EventSchemaVersion
		}
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		rows[i] = OutboxRow{EventID: e.ID, Type: e.Type, Payload: string(b), CreatedAt: e.Time.UTC()}
	}
	return tx.Create(&rows).Error
}

// Deliver hands up to batch undelivered outbox events, oldest first, to
// deliver, and marks each one delivered in the same transaction that read
// it. It stops at the first delivery error, records the error and the
// attempt on that row, and returns the number delivered with the error.
//
// On PostgreSQL (lock true) the rows are read FOR UPDATE SKIP LOCKED, so
// several relays share the work without delivering one row twice while
// both run; elsewhere the transaction's own locking applies. If the
// process dies after deliver returned but before the commit, the rows stay
// undelivered and are delivered again: delivery is at least once, and the
// event ID lets consumers keep it exactly once per key.
func Deliver(ctx context.Context, db *gorm.DB, lock bool, batch int, now time.Time, deliver func(context.Context, iam.Event) error) (int, error) {
	if batch <= 0 {
		batch = 100
	}
	n := 0
	var failed error
	err := db.Session(&gorm.Session{NewDB: true}).WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Where("delivered_at IS NULL").Order("seq").Limit(batch)
		if lock {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var rows []OutboxRow
		if err := q.Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			var e iam.Event
			if err := json.Unmarshal([]byte(r.Payload), &e); err != nil {
				failed = fmt.Errorf("outbox: event %s: %w", r.EventID, err)
			} else {
				failed = deliver(ctx, e)
			}
			if failed != nil {
				return tx.Model(&OutboxRow{}).Where("seq = ?", r.Seq).
					Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_error": failed.Error()}).Error
			}
			at := now.UTC()
			if err := tx.Model(&OutboxRow{}).Where("seq = ?", r.Seq).
				Updates(map[string]any{"delivered_at": &at, "attempts": gorm.Expr("attempts + 1")}).Error; err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: deliver: %w", err)
	}
	return n, failed
}

// Pending returns the number of undelivered events.
func Pending(ctx context.Context, db *gorm.DB) (int64, error) {
	var n int64
	err := db.Session(&gorm.Session{NewDB: true}).WithContext(ctx).Model(&OutboxRow{}).Where("delivered_at IS NULL").Count(&n).Error
	return n, err
}
