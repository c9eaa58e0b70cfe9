package sqlitestore

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/rbac"
)

// SnapshotTable holds, in one row, the copy of another store's policy that
// an iam.Authorizer keeps with iam.WithFallback: the store's revision, when
// it was last confirmed current, and the policy as gzip-compressed JSON of
// its Casbin lines and extras document. [Migrate] creates it.
const SnapshotTable = "iam_snapshot"

// ErrNoSnapshot is wrapped by the error [Store.LoadSnapshot] returns when
// no copy has been saved.
var ErrNoSnapshot = errors.New("no policy snapshot saved")

// snapshotVersion is the version of the document in SnapshotTable.
const snapshotVersion = 1

// maxSnapshotBytes bounds the decompressed document LoadSnapshot accepts,
// so that a damaged or hostile file cannot exhaust memory: 1 GiB is about
// twenty times a city of 100,000 staff.
const maxSnapshotBytes = 1 << 30

type snapshotDoc struct {
	V      int             `json:"v"`
	Lines  [][]string      `json:"lines"` // ptype, then values
	Extras json.RawMessage `json:"extras,omitempty"`
}

type snapshotRow struct {
	Revision  int64
	Confirmed int64 // Unix ns
	Doc       []byte
}

// snapshotDDL creates SnapshotTable; [Migrate] runs it.
const snapshotDDL = "CREATE TABLE IF NOT EXISTS " + SnapshotTable +
	" (id integer PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL, confirmed bigint NOT NULL, doc blob NOT NULL)"

// SaveSnapshot replaces the kept copy of another store's policy with m at
// that store's revision, confirmed current at confirmed (iam.SnapshotStore).
// m must compile; the copy is written in one statement, so a crash leaves
// the previous copy or this one.
func (s *Store) SaveSnapshot(ctx context.Context, m rbac.Model, revision int64, confirmed time.Time) error {
	if _, err := rbac.Compile(m); err != nil {
		return fmt.Errorf("sqlitestore: save snapshot: %w", err)
	}
	extras, err := casbinx.Extras(m)
	if err != nil {
		return fmt.Errorf("sqlitestore: save snapshot: %w", err)
	}
	doc := snapshotDoc{V: snapshotVersion, Extras: extras}
	for _, l := range casbinx.Encode(m) {
		doc.Lines = append(doc.Lines, append([]string{l.PType}, l.Values...))
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(doc); err != nil {
		return fmt.Errorf("sqlitestore: save snapshot: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("sqlitestore: save snapshot: %w", err)
	}
	err = s.s.DB().WithContext(ctx).Exec("INSERT INTO "+SnapshotTable+" (id, revision, confirmed, doc) VALUES (1, ?, ?, ?) "+
		"ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, confirmed = excluded.confirmed, doc = excluded.doc",
		revision, rbac.Nanos(confirmed), buf.Bytes()).Error
	if err != nil {
		return s.snapshotErr(ctx, "save snapshot", err)
	}
	return nil
}

// ConfirmSnapshot records that the kept copy, if it is at revision, was
// still current at confirmed (iam.SnapshotStore). A copy at another
// revision, or already confirmed later, is left as it is.
func (s *Store) ConfirmSnapshot(ctx context.Context, revision int64, confirmed time.Time) error {
	err := s.s.DB().WithContext(ctx).Exec("UPDATE "+SnapshotTable+" SET confirmed = ? WHERE id = 1 AND revision = ? AND confirmed < ?",
		rbac.Nanos(confirmed), revision, rbac.Nanos(confirmed)).Error
	if err != nil {
		return s.snapshotErr(ctx, "confirm snapshot", err)
	}
	return nil
}

// LoadSnapshot returns the kept copy, its revision and when it was last
// confirmed current (iam.SnapshotStore). It returns an error wrapping
// [ErrNoSnapshot] when none was saved, and a descriptive error for a
// damaged copy; the model is not validated here (the Authorizer compiles
// it).
func (s *Store) LoadSnapshot(ctx context.Context) (rbac.Model, int64, time.Time, error) {
	var rows []snapshotRow
	err := s.s.DB().WithContext(ctx).Raw("SELECT revision, confirmed, doc FROM " + SnapshotTable + " WHERE id = 1").Scan(&rows).Error
	if err != nil {
		return rbac.Model{}, 0, time.Time{}, s.snapshotErr(ctx, "load snapshot", err)
	}
	if len(rows) == 0 {
		return rbac.Model{}, 0, time.Time{}, fmt.Errorf("sqlitestore: load snapshot: %w", ErrNoSnapshot)
	}
	r := rows[0]
	m, err := decodeSnapshot(r.Doc)
	if err != nil {
		return rbac.Model{}, 0, time.Time{}, fmt.Errorf("sqlitestore: load snapshot at revision %d: %w", r.Revision, err)
	}
	return m, r.Revision, time.Unix(0, r.Confirmed).UTC(), nil
}

// decodeSnapshot reads a document SaveSnapshot wrote.
func decodeSnapshot(b []byte) (rbac.Model, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return rbac.Model{}, fmt.Errorf("damaged copy: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxSnapshotBytes+1))
	if err != nil {
		return rbac.Model{}, fmt.Errorf("damaged copy: %w", err)
	}
	if len(raw) > maxSnapshotBytes {
		return rbac.Model{}, fmt.Errorf("damaged copy: more than %d bytes", maxSnapshotBytes)
	}
	var doc snapshotDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return rbac.Model{}, fmt.Errorf("damaged copy: %w", err)
	}
	if doc.V != snapshotVersion {
		return rbac.Model{}, fmt.Errorf("copy has version %d, want %d", doc.V, snapshotVersion)
	}
	lines := make([]casbinx.Line, 0, len(doc.Lines))
	for _, l := range doc.Lines {
		if len(l) == 0 {
			return rbac.Model{}, errors.New("damaged copy: empty line")
		}
		lines = append(lines, casbinx.Line{PType: l[0], Values: l[1:]})
	}
	return casbinx.Decode(lines, doc.Extras)
}

// snapshotErr tells a database without SnapshotTable (needs Migrate) from
// other failures.
func (s *Store) snapshotErr(ctx context.Context, op string, err error) error {
	if ctx.Err() == nil {
		var r struct{ N int64 }
		if qerr := s.s.DB().WithContext(ctx).Raw(dialect().TableExists, SnapshotTable).Scan(&r).Error; qerr == nil && r.N == 0 {
			return fmt.Errorf("sqlitestore: %s: %w: table %s does not exist; run sqlitestore.Migrate (%w)", op, ErrNotMigrated, SnapshotTable, err)
		}
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, err)
}
