package pgoutbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/gormstore"
)

// Table is the outbox table.
const Table = gormstore.OutboxTable

// Sink receives relayed events. Every iam.AuditSink is a Sink. Record may
// be called again with an event it has already accepted (at-least-once
// delivery): dedupe on e.ID.
type Sink interface {
	Record(ctx context.Context, e iam.Event) error
}

// Migrate creates the outbox table if it is missing. It is idempotent;
// pgstore.Migrate and sqlitestore.Migrate already call it.
func Migrate(ctx context.Context, db *gorm.DB) error {
	if db == nil {
		return errors.New("pgoutbox: Migrate: nil *gorm.DB")
	}
	if err := gormstore.MigrateOutbox(ctx, db); err != nil {
		return fmt.Errorf("pgoutbox: migrate: %w", err)
	}
	return nil
}

// Relay delivers outbox events to a sink. It is safe for concurrent use,
// and several relays (in several processes) may share one outbox.
type Relay struct {
	db    *gorm.DB
	sink  Sink
	lock  bool
	batch int
	now   func() time.Time
	log   *slog.Logger
}

// An Option configures a Relay.
type Option func(*Relay)

// WithBatch sets how many events one [Relay.RelayOnce] delivers at most
// (default 100).
func WithBatch(n int) Option { return func(r *Relay) { r.batch = n } }

// WithClock sets the clock that stamps delivered_at (default time.Now).
func WithClock(now func() time.Time) Option { return func(r *Relay) { r.now = now } }

// WithLogger sets where [Relay.Run] reports delivery failures.
func WithLogger(l *slog.Logger) Option { return func(r *Relay) { r.log = l } }

// New returns a relay from the outbox in db to sink. It runs no statement.
// db is the handle the store uses (PostgreSQL, or SQLite for the embedded
// store).
func New(db *gorm.DB, sink Sink, opts ...Option) (*Relay, error) {
	if db == nil || sink == nil {
		return nil, errors.New("pgoutbox: New: nil *gorm.DB or Sink")
	}
	r := &Relay{db: db, sink: sink, batch: 100, now: time.Now, log: slog.Default()}
	r.lock = db.Dialector != nil && db.Dialector.Name() == "postgres"
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// RelayOnce delivers up to one batch of undelivered events, oldest first,
// and returns how many it delivered. A sink error stops the batch; the
// events delivered before it stay delivered.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	n, err := gormstore.Deliver(ctx, r.db, r.lock, r.batch, r.now(), r.sink.Record)
	if err != nil {
		return n, fmt.Errorf("pgoutbox: relay: %w", err)
	}
	return n, nil
}

// Drain relays batches until none is left or an error occurs, and returns
// the total delivered.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := r.RelayOnce(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// Pending returns the number of events not yet delivered.
func (r *Relay) Pending(ctx context.Context) (int64, error) {
	n, err := gormstore.Pending(ctx, r.db)
	if err != nil {
		return 0, fmt.Errorf("pgoutbox: pending: %w", err)
	}
	return n, nil
}

// Purge deletes events delivered before t and returns how many.
func (r *Relay) Purge(ctx context.Context, before time.Time) (int64, error) {
	res := r.db.Session(&gorm.Session{NewDB: true}).WithContext(ctx).
		Where("delivered_at IS NOT NULL AND delivered_at < ?", before.UTC()).Delete(&gormstore.OutboxRow{})
	if res.Error != nil {
		return 0, fmt.Errorf("pgoutbox: purge: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// Run drains the outbox every interval until ctx is done, logging
// failures, and returns ctx's error. Run it in a goroutine you own; cancel
// ctx to stop it. Pair it with the policy watcher's notifications if you
// want lower latency than the interval.
func (r *Relay) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("pgoutbox: Run: interval %v must be positive", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := r.Drain(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("pgoutbox: relay failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Dedupe wraps sink so that an event ID it has passed on once is dropped
// afterwards: exactly once per idempotency key within this process. A
// durable consumer does the same with a unique index on the event ID.
func Dedupe(sink Sink) Sink { return &dedupe{next: sink, seen: map[string]struct{}{}} }

type dedupe struct {
	next Sink
	mu   sync.Mutex
	seen map[string]struct{}
}

func (d *dedupe) Record(ctx context.Context, e iam.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.seen[e.ID]; ok {
		return nil
	}
	if err := d.next.Record(ctx, e); err != nil {
		return err
	}
	d.seen[e.ID] = struct{}{}
	return nil
}
