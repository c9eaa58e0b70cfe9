package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/perm"
	"github.com/civic-platform/security/internal/policytables"
	"github.com/civic-platform/security/rbac"
)

// Table names (see package policytables).
const (
	// RuleTable is gorm-adapter's table of Casbin policy lines.
	RuleTable = policytables.RuleTable
	// RuleIndex is the unique index gorm-adapter creates on RuleTable.
	RuleIndex = policytables.RuleIndex
	// RevisionTable holds the one-row revision counter.
	RevisionTable = policytables.RevisionTable
	// ExtrasTable holds, in one row, the model parts that have no Casbin
	// lines (conflict rules and waivers) as casbinx's extras document.
	ExtrasTable = policytables.ExtrasTable
)

// MaxValueLen is the longest value a line may hold, in bytes: the width of
// gorm-adapter's v0..v5 columns (varchar(100)). A model with a longer name
// is refused with an error wrapping rbac.ErrInvalidInput, on SQLite too
// (which would store it), so that both stores accept the same models.
const MaxValueLen = 100

// maxValues is the number of value columns, v0..v5.
const maxValues = 6

// ErrNotMigrated is wrapped by the error a store returns when its tables or
// its revision row do not exist: the database needs Migrate.
var ErrNotMigrated = policytables.ErrNotMigrated

// Rule is one row of casbin_rule, declared exactly as gorm-adapter
// declares its CasbinRule (same table, column names, types, sizes and
// primary key), so that the table [Migrate] creates is the one
// gorm-adapter creates and either can read what the other wrote. It is
// declared here rather than imported so that a store links gorm and its
// own driver only: importing gorm-adapter links the MySQL, SQL Server,
// SQLite and PostgreSQL drivers together. The conformance suite
// (storetest) checks the two declarations against each other on every
// database the stores run on.
type Rule struct {
	ID    uint   `gorm:"primaryKey;autoIncrement"`
	Ptype string `gorm:"size:100"`
	V0    string `gorm:"size:100"`
	V1    string `gorm:"size:100"`
	V2    string `gorm:"size:100"`
	V3    string `gorm:"size:100"`
	V4    string `gorm:"size:100"`
	V5    string `gorm:"size:100"`
}

// TableName is [RuleTable].
func (Rule) TableName() string { return RuleTable }

// Dialect is what differs between the databases a Store runs on.
type Dialect struct {
	// Name is the package name that prefixes errors and names Migrate in
	// them ("pgstore").
	Name string
	// ReadTx are the options of LoadPolicy's read transaction. They must
	// give one snapshot for all its statements (REPEATABLE READ on
	// PostgreSQL; nil on SQLite, where every transaction has one).
	ReadTx *sql.TxOptions
	// TableExists is a query with one parameter, a table name, returning
	// one row with a count that is positive if the table exists where the
	// store's unqualified table names resolve.
	TableExists string
	// MigrateMore are statements of the dialect's own that Migrate runs
	// in its transaction after creating the shared tables.
	MigrateMore []string
	// MigrateFunc, if set, runs in Migrate's transaction after
	// MigrateMore, for steps that depend on what the database already
	// holds (adding a column to an existing table).
	MigrateFunc func(tx *gorm.DB) error
}

// Store keeps an rbac.Model as Casbin policy lines through gorm. It is safe
// for concurrent use by goroutines and by several processes on one
// database; see the package documentation for how writers serialise.
type Store struct {
	db *gorm.DB
	d  Dialect
	// lines is how many lines the last full load read: the next load sizes
	// its buffers by it instead of growing them row by row.
	lines atomic.Int64
}

// New returns a Store on db. It runs no statement: no DDL, no query.
func New(db *gorm.DB, d Dialect) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("%s: New: nil *gorm.DB", d.Name)
	}
	// A session of our own, so that conditions the caller's handle may
	// carry never reach our statements and ours never reach theirs.
	return &Store{db: db.Session(&gorm.Session{NewDB: true}), d: d}, nil
}

// DB returns the handle the store uses.
func (s *Store) DB() *gorm.DB { return s.db }

// Migrate creates gorm-adapter's casbin_rule table and its unique index if
// they are missing (an existing casbin_rule table is left as it is), the
// revision table with its row at revision 0, the extras table with its row,
// and the outbox table ([OutboxRow]). It is idempotent. Run it
// from one migration step, not from several processes at once.
func Migrate(ctx context.Context, db *gorm.DB, d Dialect) error {
	if db == nil {
		return fmt.Errorf("%s: Migrate: nil *gorm.DB", d.Name)
	}
	err := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Transaction(func(tx *gorm.DB) error {
		m := tx.Migrator()
		if !m.HasTable(&Rule{}) {
			if err := m.CreateTable(&Rule{}); err != nil {
				return err
			}
		}
		for _, stmt := range []string{
			"CREATE UNIQUE INDEX IF NOT EXISTS " + RuleIndex + " ON " + RuleTable + " (ptype,v0,v1,v2,v3,v4,v5)",
			"CREATE TABLE IF NOT EXISTS " + RevisionTable + " (id integer PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL)",
			"INSERT INTO " + RevisionTable + " (id, revision) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
			"CREATE TABLE IF NOT EXISTS " + ExtrasTable + " (id integer PRIMARY KEY CHECK (id = 1), doc text NOT NULL)",
			"INSERT INTO " + ExtrasTable + " (id, doc) VALUES (1, '') ON CONFLICT (id) DO NOTHING",
		} {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		if !m.HasTable(&OutboxRow{}) {
			if err := m.CreateTable(&OutboxRow{}); err != nil {
				return err
			}
		}
		for _, stmt := range d.MigrateMore {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		if d.MigrateFunc != nil {
			return d.MigrateFunc(tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: migrate: %w", d.Name, err)
	}
	return nil
}

// LoadPolicy returns the stored model and its revision, read in one
// transaction so that the two agree. A freshly migrated store holds the
// empty model at revision 0. Role labels and grant reasons come from the
// extras document; the order of a role's rules and parents is not kept.
func (s *Store) LoadPolicy(ctx context.Context) (rbac.Model, int64, error) {
	m, _, rev, err := s.LoadCompiled(ctx, -1)
	return m, rev, err
}

// LoadCompiled is LoadPolicy that also returns the compiled policy, which
// it builds anyway to validate what it read (iam.CompiledSource). When the
// stored revision is not above after, it reads nothing else and returns the
// revision with an empty model and a nil policy.
func (s *Store) LoadCompiled(ctx context.Context, after int64) (rbac.Model, *rbac.Policy, int64, error) {
	var (
		rev    int64
		lines  []casbinx.Row
		extras string
	)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r struct{ Revision int64 }
		res := tx.Raw("SELECT revision FROM " + RevisionTable + " WHERE id = 1").Scan(&r)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errNoRevisionRow
		}
		rev = r.Revision
		if rev <= after {
			return nil
		}
		var err error
		if lines, err = readLines(tx, int(s.lines.Load())); err != nil {
			return err
		}
		extras, err = readExtras(tx)
		return err
	}, s.d.ReadTx)
	if err != nil {
		return rbac.Model{}, nil, 0, s.fail(ctx, "load policy", err)
	}
	if rev <= after {
		return rbac.Model{}, nil, rev, nil
	}
	s.lines.Store(int64(len(lines)))
	// Rows that do not load are quarantined (m.Quarantine), not fatal.
	m, p, err := casbinx.LoadRows(lines, []byte(extras))
	if err != nil {
		return rbac.Model{}, nil, 0, fmt.Errorf("%s: load policy at revision %d: %w", s.d.Name, rev, err)
	}
	return m, p, rev, nil
}

// Apply applies c to the stored model in one transaction and returns the
// new revision. The changed model is validated completely (rbac.Update:
// rbac.Compile and the conflict-rule check; and the width of every value)
// before anything is written; an invalid
// change, or one that revokes, leaves or deletes something that does not
// exist, is refused with an error wrapping rbac.ErrInvalidInput or
// rbac.ErrNotFound (or, breaking a conflict rule, rbac.ErrConflict) and
// the store is unchanged. An empty change is refused the same way. A
// change whose preconditions (rbac.Change.ExpectGrants) do not hold in the
// transaction is refused with an error wrapping rbac.ErrChanged. A zero
// c.At is the current time. Every
// accepted change moves the revision by one, even one that changes only
// labels or reasons.
func (s *Store) Apply(ctx context.Context, c rbac.Change) (int64, error) {
	return s.ApplyWithEvents(ctx, c, nil)
}

// ApplyWithEvents applies c like [Store.Apply] and, in the same
// transaction, inserts the events that events returns for the new revision
// into the outbox table (see [OutboxRow]), so that the change and its
// events commit or roll back together. events is called once, after the
// change has been validated; nil means no events. An event whose ID is
// already in the outbox fails the whole change.
func (s *Store) ApplyWithEvents(ctx context.Context, c rbac.Change, events func(revision int64) []iam.Event) (int64, error) {
	if c.IsZero() {
		_, _, err := rbac.Update(rbac.Model{}, c) // the typed "empty change" error
		return 0, fmt.Errorf("%s: apply: %w", s.d.Name, err)
	}
	if c.At.IsZero() {
		c.At = time.Now()
	}
	var after func(tx *gorm.DB, rev int64) error
	if events != nil {
		after = func(tx *gorm.DB, rev int64) error { return insertOutbox(tx, events(rev)) }
	}
	return s.write(ctx, "apply", func(cur []Rule, extras string) ([]casbinx.Line, string, map[int64]bool, error) {
		m, err := modelOf(cur, extras)
		if err != nil {
			return nil, "", nil, err
		}
		// Update checks c's preconditions (rbac.Change.ExpectGrants)
		// against the rows read in this transaction, which holds the
		// write lock, applies c, compiles the result and checks conflict
		// rules: the change is validated completely before anything is
		// written.
		next, _, err := rbac.Update(m, c)
		if err != nil {
			return nil, "", nil, err
		}
		lines, doc, err := encoded(next) // Update has compiled next
		if err != nil {
			return nil, "", nil, err
		}
		// Quarantined rows stay until a change deletes them (DeleteRows).
		keep := make(map[int64]bool, len(next.Quarantine))
		for _, q := range next.Quarantine {
			keep[q.ID] = true
		}
		return lines, doc, keep, nil
	}, after)
}

// Replace replaces the whole stored model with m in one transaction and
// returns the new revision. m is validated before the transaction starts;
// an invalid m is refused with an error wrapping rbac.ErrInvalidInput and
// the store is unchanged. Inside the transaction m is checked against the
// stored model like any change (rbac.CheckReplace, now): a model that
// creates or enlarges a violation of a conflict rule that no waiver in
// force permits is refused with rbac.ErrConflict. Stored lines that no
// longer load as a model grant no violation its standing, so Replace still
// repairs such a table.
func (s *Store) Replace(ctx context.Context, m rbac.Model) (int64, error) {
	p, err := rbac.Compile(m)
	if err != nil {
		return 0, fmt.Errorf("%s: replace: %w", s.d.Name, err)
	}
	want, extras, err := encoded(m)
	if err != nil {
		return 0, fmt.Errorf("%s: replace: %w", s.d.Name, err)
	}
	return s.write(ctx, "replace", func(cur []Rule, curExtras string) ([]casbinx.Line, string, map[int64]bool, error) {
		before, err := modelOf(cur, curExtras)
		if err != nil {
			before = rbac.Model{} // unreadable: nothing in it has standing
		}
		if err := rbac.CheckReplace(before, p, time.Now()); err != nil {
			return nil, "", nil, err
		}
		if err := rbac.CheckEmergencyReplace(before, m, time.Now()); err != nil {
			return nil, "", nil, err
		}
		return want, extras, nil, nil
	}, nil)
}

// write runs one write transaction: bump and lock the revision, read the
// current rows and extras, compute the wanted lines and extras with next
// (and the ids of quarantined rows to keep as they are), write the
// difference, then run after (the outbox) if set.
func (s *Store) write(ctx context.Context, op string, next func([]Rule, string) ([]casbinx.Line, string, map[int64]bool, error),
	after func(tx *gorm.DB, rev int64) error) (int64, error) {
	var rev int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// First statement, and a write: on PostgreSQL it locks the row until
		// commit; on SQLite it takes the write lock (waiting up to
		// busy_timeout) before this transaction has read anything.
		var r struct{ Revision int64 }
		res := tx.Raw("UPDATE " + RevisionTable + " SET revision = revision + 1 WHERE id = 1 RETURNING revision").Scan(&r)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errNoRevisionRow
		}
		var cur []Rule
		if err := tx.Order("id").Find(&cur).Error; err != nil {
			return err
		}
		curExtras, err := readExtras(tx)
		if err != nil {
			return err
		}
		want, wantExtras, keep, err := next(cur, curExtras)
		if err != nil {
			return refusedError{err}
		}
		if err := writeDiff(tx, cur, want, keep); err != nil {
			return err
		}
		if wantExtras != curExtras {
			if err := tx.Exec("INSERT INTO "+ExtrasTable+" (id, doc) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc", wantExtras).Error; err != nil {
				return err
			}
		}
		if after != nil {
			if err := after(tx, r.Revision); err != nil {
				return err
			}
		}
		rev = r.Revision
		return nil
	})
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	return rev, nil
}

// writeDiff deletes the rows of cur that want does not hold (and duplicate
// rows), except the rows keep names, and inserts the lines of want that cur
// does not hold.
func writeDiff(tx *gorm.DB, cur []Rule, want []casbinx.Line, keep map[int64]bool) error {
	wanted := make(map[string]bool, len(want))
	for _, l := range want {
		wanted[lineKey(l)] = false // false: not yet found in cur
	}
	var drop []uint
	for _, r := range cur {
		k := lineKey(toLine(r))
		if found, ok := wanted[k]; ok && !found {
			wanted[k] = true
			continue
		}
		if !keep[int64(r.ID)] {
			drop = append(drop, r.ID)
		}
	}
	const batch = 500
	for len(drop) > 0 {
		n := min(batch, len(drop))
		if err := tx.Delete(&Rule{}, drop[:n]).Error; err != nil {
			return err
		}
		drop = drop[n:]
	}
	var add []Rule
	for _, l := range want {
		if !wanted[lineKey(l)] {
			add = append(add, toRule(l))
		}
	}
	if len(add) > 0 {
		if err := tx.CreateInBatches(&add, 200).Error; err != nil {
			return err
		}
	}
	return nil
}

// encoded returns the lines and extras document of m, which the caller has
// compiled, after checking that every line fits gorm-adapter's columns.
func encoded(m rbac.Model) ([]casbinx.Line, string, error) {
	lines := casbinx.Encode(m)
	for _, l := range lines {
		if len(l.Values) > maxValues {
			return nil, "", &rbac.InvalidError{Kind: "model", Value: perm.Quote(l.PType), Reason: fmt.Sprintf("line with %d values; casbin_rule holds %d", len(l.Values), maxValues)}
		}
		for _, v := range l.Values {
			if len(v) > MaxValueLen {
				return nil, "", &rbac.InvalidError{Kind: "model", Value: perm.Quote(v),
					Reason: fmt.Sprintf("stored value longer than %d bytes, the width of casbin_rule's columns", MaxValueLen)}
			}
		}
	}
	if !casbinx.HasExtras(m) {
		return lines, "", nil
	}
	extras, err := casbinx.Extras(m)
	if err != nil {
		return nil, "", err
	}
	return lines, string(extras), nil
}

// modelOf rebuilds the model from its rows and extras document for a
// write, as a load does: rows that do not load are in its Quarantine, and
// the write leaves them in place unless the change deletes them.
func modelOf(rows []Rule, extras string) (rbac.Model, error) {
	rs := make([]casbinx.Row, len(rows))
	for i, r := range rows {
		rs[i] = casbinx.Row{ID: int64(r.ID), Line: toLine(r)}
	}
	m, _, err := casbinx.LoadRows(rs, []byte(extras))
	return m, err
}

// readLines reads every policy row for loading, with its id: casbinx
// pairs each assignment line with its deny twin and quarantines what does
// not load. It reads without ORDER BY (casbinx orders by id), and interns
// the values after the first, which repeat heavily (roles, scopes,
// instants; the first is mostly a subject, which seldom does), so that a
// city of 100,000 users loads in well under a second. hint is how many
// rows to expect (the last load's count): the result is sized by it, and
// the values are cut from shared blocks rather than allocated one row at
// a time.
func readLines(tx *gorm.DB, hint int) ([]casbinx.Row, error) {
	rows, err := tx.Raw("SELECT id, ptype, v0, v1, v2, v3, v4, v5 FROM " + RuleTable).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	intern := make(map[string]string, 1024)
	str := func(b []byte) string {
		if s, ok := intern[string(b)]; ok { // no allocation for the lookup
			return s
		}
		s := string(b)
		intern[s] = s
		return s
	}
	const block = 1 << 14 // values per shared block
	var (
		out  = make([]casbinx.Row, 0, hint+hint/16+16)
		free []string // the unused part of the current block
		id   int64
		vals [1 + maxValues]sql.RawBytes
		dest [2 + maxValues]any
	)
	dest[0] = &id
	for i := range vals {
		dest[i+1] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest[:]...); err != nil {
			return nil, err
		}
		n := maxValues
		for n > 0 && len(vals[n]) == 0 { // trailing empty values are not part of the line
			n--
		}
		if len(free) < n {
			free = make([]string, block)
		}
		l := casbinx.Row{ID: id, Line: casbinx.Line{PType: str(vals[0]), Values: free[:n:n]}}
		free = free[n:]
		if n > 0 { // v0 is mostly a subject, seldom repeated: not worth a lookup
			l.Values[0] = string(vals[1])
		}
		for i := 1; i < n; i++ {
			l.Values[i] = str(vals[i+1])
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// readExtras reads the extras document; a missing row reads as empty.
func readExtras(tx *gorm.DB) (string, error) {
	var rows []struct{ Doc string }
	if err := tx.Raw("SELECT doc FROM " + ExtrasTable + " WHERE id = 1").Scan(&rows).Error; err != nil {
		return "", err
	}
	if len(rows) == 0 {
		return "", nil
	}
	return rows[0].Doc, nil
}

// toLine converts a row as gorm-adapter does: trailing empty values are
// not part of the line.
func toLine(r Rule) casbinx.Line {
	v := []string{r.V0, r.V1, r.V2, r.V3, r.V4, r.V5}
	for len(v) > 0 && v[len(v)-1] == "" {
		v = v[:len(v)-1]
	}
	return casbinx.Line{PType: r.Ptype, Values: v}
}

func toRule(l casbinx.Line) Rule {
	var v [maxValues]string
	copy(v[:], l.Values)
	return Rule{Ptype: l.PType, V0: v[0], V1: v[1], V2: v[2], V3: v[3], V4: v[4], V5: v[5]}
}

func lineKey(l casbinx.Line) string {
	return l.PType + "\x00" + strings.Join(l.Values, "\x00")
}

// errNoRevisionRow reports a revision table without its row.
var errNoRevisionRow = errors.New("revision row missing")

// refusedError marks an error from validating a change, as opposed to one
// from the database.
type refusedError struct{ err error }

// Error implements the error interface.
func (e refusedError) Error() string { return e.err.Error() }
func (e refusedError) Unwrap() error { return e.err }

// fail wraps err from operation op, telling a database that needs Migrate
// apart from other failures.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	var refused refusedError
	if errors.As(err, &refused) {
		return fmt.Errorf("%s: %s: %w", s.d.Name, op, refused.err)
	}
	if errors.Is(err, errNoRevisionRow) {
		return fmt.Errorf("%s: %s: %w: table %s has no revision row; run %s.Migrate", s.d.Name, op, ErrNotMigrated, RevisionTable, s.d.Name)
	}
	if ctx.Err() == nil {
		for _, table := range []string{RevisionTable, RuleTable, ExtrasTable} {
			if ok, terr := s.tableExists(ctx, table); terr == nil && !ok {
				return fmt.Errorf("%s: %s: %w: table %s does not exist; run %s.Migrate (%w)", s.d.Name, op, ErrNotMigrated, table, s.d.Name, err)
			}
		}
	}
	return fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
}

func (s *Store) tableExists(ctx context.Context, table string) (bool, error) {
	var r struct{ N int64 }
	if err := s.db.WithContext(ctx).Raw(s.d.TableExists, table).Scan(&r).Error; err != nil {
		return false, err
	}
	return r.N > 0, nil
}
