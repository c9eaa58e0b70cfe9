package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/rbac"
)

// Table names.
const (
	RuleTable     = gormstore.RuleTable     // "casbin_rule", gorm-adapter's table
	RevisionTable = gormstore.RevisionTable // "iam_policy_revision"
)

// ErrNotMigrated is wrapped by the errors a Store returns while the
// database lacks its tables: run [Migrate].
var ErrNotMigrated = gormstore.ErrNotMigrated

func dialect() gormstore.Dialect {
	return gormstore.Dialect{
		Name:        "sqlitestore",
		TableExists: "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
		MigrateMore: snapshotDDL,
		MigrateFunc: migrateSnapshot,
	}
}

// Pragmas Open sets on every connection: WAL so that readers do not wait
// for the writer, and a busy timeout long enough for writers (in this
// process or another) to queue rather than fail.
const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"

// Store is the policy kept in SQLite. It is safe for concurrent use.
type Store struct {
	s     *gormstore.Store
	owned bool // Open created the handle; Close closes it
}

// Open opens (creating if needed) the SQLite file at path with WAL and a
// 10 s busy timeout, and returns a Store that owns the handle; call
// [Store.Close] when done. It runs no DDL: run [Migrate] on [Store.DB].
// path must name a file (for a policy held in memory use package
// memstore) and cannot contain '?'.
func Open(path string) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') || path == ":memory:" {
		return nil, fmt.Errorf("sqlitestore: Open: %q does not name a file", path)
	}
	db, err := gorm.Open(sqlite.Open(path+"?"+pragmas), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if err := sqlDB.Ping(); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlitestore: open %s: %w", path, err), sqlDB.Close())
	}
	s, err := gormstore.New(db, dialect())
	if err != nil {
		return nil, errors.Join(err, sqlDB.Close())
	}
	return &Store{s: s, owned: true}, nil
}

// New returns a Store that uses db, a handle on a SQLite database. It runs
// no statement, DDL or otherwise. Give the handle a busy timeout (the
// driver's default is 5 s) so that concurrent writers wait for each other.
func New(db *gorm.DB) (*Store, error) {
	if db != nil && db.Dialector != nil && db.Dialector.Name() != "sqlite" {
		return nil, fmt.Errorf("sqlitestore: New: handle is for %s, not sqlite", db.Dialector.Name())
	}
	s, err := gormstore.New(db, dialect())
	if err != nil {
		return nil, err
	}
	return &Store{s: s}, nil
}

// Migrate creates casbin_rule (exactly as gorm-adapter would, if it does not
// exist yet), its unique index, iam_policy_revision with its one row at
// revision 0, iam_policy_extras (conflict rules and waivers), the
// iam_outbox event table, and iam_snapshot and iam_snapshot_store, where
// a file used with iam.WithFallback keeps its authenticated copy of another
// store's policy ([SnapshotStore]); a file migrated by an older version
// gets the columns that hold the copy's tags. It is idempotent and runs in
// one transaction.
func Migrate(ctx context.Context, db *gorm.DB) error {
	return gormstore.Migrate(ctx, db, dialect())
}

// DB returns the handle the store uses, for [Migrate] after [Open].
func (s *Store) DB() *gorm.DB { return s.s.DB() }

// Close closes the database if [Open] opened it. For a Store made by [New]
// it does nothing: the caller owns that handle.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	sqlDB, err := s.s.DB().DB()
	if err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return sqlDB.Close()
}

// LoadPolicy returns the stored model and its revision, read from one
// snapshot.
func (s *Store) LoadPolicy(ctx context.Context) (rbac.Model, int64, error) {
	return s.s.LoadPolicy(ctx)
}

// LoadCompiled is LoadPolicy that also returns the compiled policy, which
// the store builds anyway to validate what it read, so that an
// iam.Authorizer does not compile it again (iam.CompiledSource). When the
// stored revision is not above after, it reads nothing else and returns the
// revision with an empty model and a nil policy.
func (s *Store) LoadCompiled(ctx context.Context, after int64) (rbac.Model, *rbac.Policy, int64, error) {
	return s.s.LoadCompiled(ctx, after)
}

// Apply applies c in one transaction and returns the new revision. The
// result is validated with rbac.Compile before anything is written; a
// refused change wraps rbac.ErrInvalidInput, rbac.ErrNotFound or
// rbac.ErrConflict and leaves the store as it was. An empty change is
// refused as invalid input. Conflict rules and waivers are kept in the
// iam_policy_extras document, written in the same transaction.
func (s *Store) Apply(ctx context.Context, c rbac.Change) (int64, error) {
	return s.s.Apply(ctx, c)
}

// ApplyWithEvents applies c like [Store.Apply] and writes the events that
// events returns for the new revision to the iam_outbox table in the same
// transaction, so that neither commits without the other. It makes the
// store an iam.EventWriter: an iam.Admin built with iam.NewOutboxAdmin
// writes through it; relay the outbox with adapters/pgoutbox.
func (s *Store) ApplyWithEvents(ctx context.Context, c rbac.Change, events func(revision int64) []iam.Event) (int64, error) {
	return s.s.ApplyWithEvents(ctx, c, events)
}

// Replace replaces the whole stored model with m in one transaction and
// returns the new revision. An invalid m is refused before the transaction
// starts, wrapping rbac.ErrInvalidInput. Inside it, m is checked against
// the stored model like a change (rbac.CheckReplace, now): an m that
// creates or enlarges a violation of a conflict rule that no waiver in
// force permits is refused with rbac.ErrConflict and nothing is written.
func (s *Store) Replace(ctx context.Context, m rbac.Model) (int64, error) {
	return s.s.Replace(ctx, m)
}
