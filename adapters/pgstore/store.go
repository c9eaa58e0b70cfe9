package pgstore

import (
	"context"
	"database/sql"
	"fmt"

	"gorm.io/gorm"

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
		Name:        "pgstore",
		ReadTx:      &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
		TableExists: "SELECT CASE WHEN to_regclass(?) IS NULL THEN 0 ELSE 1 END AS n",
		MigrateMore: rowsChangedTrigger,
	}
}

// RowsChangedTrigger is the trigger [Migrate] puts on casbin_rule: a
// statement that writes policy rows in a transaction that has not already
// moved the revision (a plain Casbin enforcer's gorm-adapter, psql, a
// migration script) moves it by one, so that every process notices the
// change. A Store moves the revision first in each of its transactions, so
// the trigger leaves its writes alone: one revision per change either way.
const RowsChangedTrigger = "iam_policy_rows_changed"

// rowsChangedTrigger creates the trigger. The function keeps the
// search_path it was created with, so it finds the revision table whatever
// the writer's search_path is.
var rowsChangedTrigger = []string{
	`CREATE OR REPLACE FUNCTION ` + RowsChangedTrigger + `() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	UPDATE ` + gormstore.RevisionTable + ` SET revision = revision + 1 WHERE id = 1 AND xmin <> pg_current_xact_id()::xid;
	RETURN NULL;
END $$`,
	`DROP TRIGGER IF EXISTS ` + RowsChangedTrigger + ` ON ` + gormstore.RuleTable,
	`CREATE TRIGGER ` + RowsChangedTrigger + ` AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ` + gormstore.RuleTable +
		` FOR EACH STATEMENT EXECUTE FUNCTION ` + RowsChangedTrigger + `()`,
}

// Store is the policy kept in PostgreSQL. It is safe for concurrent use.
type Store struct {
	s *gormstore.Store
}

// New returns a Store that uses db. It opens no connections and runs no
// statement, DDL or otherwise; run [Migrate] from your migration step.
// Tables are found through db's search_path.
func New(db *gorm.DB) (*Store, error) {
	if db != nil && db.Dialector != nil && db.Dialector.Name() != "postgres" {
		return nil, fmt.Errorf("pgstore: New: handle is for %s, not postgres", db.Dialector.Name())
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
// iam_outbox event table, and the [RowsChangedTrigger] that moves the
// revision when something other than a Store writes policy rows. It is
// idempotent and runs in one transaction.
func Migrate(ctx context.Context, db *gorm.DB) error {
	return gormstore.Migrate(ctx, db, dialect())
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
