package sqlitestore_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/internal/gormstore/storetest"
	"github.com/civic-platform/security/rbac"
)

// migrated opens a migrated file in a temporary directory.
func migrated(t *testing.T) *sqlitestore.Store {
	t.Helper()
	s := open(t, filepath.Join(t.TempDir(), "fallback.db"))
	if err := sqlitestore.Migrate(context.Background(), s.DB()); err != nil {
		t.Fatal(err)
	}
	return s
}

// newKey returns a fresh random key of the minimum length.
func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, sqlitestore.MinSnapshotKeyLen)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// keyed returns the fallback copy kept in s under key.
func keyed(t testing.TB, s *sqlitestore.Store, key []byte) *sqlitestore.SnapshotStore {
	t.Helper()
	fb, err := sqlitestore.NewSnapshotStore(s, key)
	if err != nil {
		t.Fatal(err)
	}
	return fb
}

// fallback returns a keyed fallback copy in a new migrated file, and that
// file.
func fallback(t *testing.T) (*sqlitestore.SnapshotStore, *sqlitestore.Store) {
	t.Helper()
	s := migrated(t)
	return keyed(t, s, newKey(t)), s
}

func TestNewSnapshotStoreRefusesWeakKeys(t *testing.T) {
	t.Parallel()
	s := migrated(t)
	secret := newKey(t)
	for name, key := range map[string][]byte{
		"nil":             nil,
		"empty":           {},
		"31 bytes":        secret[:31],
		"32 zero bytes":   make([]byte, 32),
		"64 equal bytes":  bytes.Repeat([]byte{0xa5}, 64),
		"a short passphr": []byte("correct horse battery staple"),
	} {
		fb, err := sqlitestore.NewSnapshotStore(s, key)
		if !errors.Is(err, sqlitestore.ErrSnapshotKey) || fb != nil {
			t.Errorf("%s: NewSnapshotStore = %v, %v; want ErrSnapshotKey", name, fb, err)
		}
	}
	if _, err := sqlitestore.NewSnapshotStore(nil, secret); err == nil {
		t.Error("NewSnapshotStore(nil store) succeeded")
	}
	if _, err := sqlitestore.NewSnapshotStore(s, secret); err != nil {
		t.Errorf("NewSnapshotStore with a random 32-byte key: %v", err)
	}
	// The key is copied: changing the caller's slice does not change
	// what the store checks with.
	key := bytes.Clone(secret)
	fb := keyed(t, s, key)
	ctx := context.Background()
	if err := fb.SaveSnapshot(ctx, storetest.CityModel(), 1, storetest.Noon); err != nil {
		t.Fatal(err)
	}
	key[0] ^= 0xff
	if _, _, _, err := fb.LoadSnapshot(ctx); err != nil {
		t.Errorf("after the caller changed its key slice: %v", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb, _ := fallback(t)
	if _, _, _, err := fb.LoadSnapshot(ctx); !errors.Is(err, sqlitestore.ErrNoSnapshot) {
		t.Fatalf("LoadSnapshot on a new file: %v, want ErrNoSnapshot", err)
	}
	at := storetest.Noon.Add(123456789)
	if err := fb.SaveSnapshot(ctx, storetest.CityModel(), 42, at); err != nil {
		t.Fatal(err)
	}
	m, rev, confirmed, err := fb.LoadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rev != 42 || !confirmed.Equal(at) {
		t.Errorf("copy at revision %d confirmed %v, want 42 and %v", rev, confirmed, at)
	}
	storetest.Equal(t, m, storetest.CityModel(), true)

	// Confirmations apply only to the kept revision, and only forward,
	// and each leaves a copy that verifies.
	for _, c := range []struct {
		rev  int64
		at   time.Time
		want time.Time
	}{
		{41, at.Add(time.Hour), at},
		{42, at.Add(time.Minute), at.Add(time.Minute)},
		{42, at, at.Add(time.Minute)},
		{42, at.Add(2 * time.Minute), at.Add(2 * time.Minute)},
	} {
		if err := fb.ConfirmSnapshot(ctx, c.rev, c.at); err != nil {
			t.Fatal(err)
		}
		if _, _, got, err := fb.LoadSnapshot(ctx); err != nil || !got.Equal(c.want) {
			t.Errorf("after ConfirmSnapshot(%d, %v): confirmed %v, %v; want %v", c.rev, c.at, got, err, c.want)
		}
	}

	// An invalid model is refused and the kept copy stays.
	bad := storetest.CityModel()
	bad.Grants = append(bad.Grants, rbac.Grant{Subject: "user:x", Role: "no-such-role", Scope: "org"})
	if err := fb.SaveSnapshot(ctx, bad, 43, at); !errors.Is(err, rbac.ErrInvalidInput) && !errors.Is(err, rbac.ErrNotFound) {
		t.Errorf("SaveSnapshot of an invalid model: %v", err)
	}
	if _, rev, _, err := fb.LoadSnapshot(ctx); err != nil || rev != 42 {
		t.Errorf("after a refused save: revision %d, %v; want 42", rev, err)
	}
}

// otherModel is a policy that differs from storetest.CityModel: it grants
// user:mallory the administrator role.
func otherModel() rbac.Model {
	m := storetest.CityModel()
	m.Roles = append(m.Roles, rbac.Role{ID: "root", Permissions: []rbac.Permission{"finance.*", "crm.*"}})
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:mallory", Role: "root", Scope: "org"})
	return m
}

// TestSnapshotRefusesUnverifiedCopies changes a kept copy behind the
// store's back in every way an attacker who can write the file (but does
// not hold the key) could: each copy is refused with ErrSnapshotUnverified,
// never returned, and an Authorizer started on it while its store is down
// does not start.
func TestSnapshotRefusesUnverifiedCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const rev = 7
	// A copy of otherModel at the same revision, under another key in
	// another file: its document is a well-formed policy.
	otherFB, otherFile := fallback(t)
	if err := otherFB.SaveSnapshot(ctx, otherModel(), rev, storetest.Noon); err != nil {
		t.Fatal(err)
	}
	var other struct {
		Doc, Tag, ConfirmedTag []byte
		Confirmed              int64
	}
	if err := otherFile.DB().Raw("SELECT doc, tag, confirmed_tag, confirmed FROM " + sqlitestore.SnapshotTable).Scan(&other).Error; err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	// A copy of the right policy under the same key, in another file.
	sameKeyFB, sameKeyFile := fallback(t)
	sameKeyFB = keyed(t, sameKeyFile, key)
	if err := sameKeyFB.SaveSnapshot(ctx, storetest.CityModel(), rev, storetest.Noon); err != nil {
		t.Fatal(err)
	}
	var twin struct {
		Doc, Tag, ConfirmedTag []byte
	}
	if err := sameKeyFile.DB().Raw("SELECT doc, tag, confirmed_tag FROM " + sqlitestore.SnapshotTable).Scan(&twin).Error; err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		sql  string
		args []any
		key  []byte // load with this key instead
	}{
		{name: "content replaced, same revision", sql: "UPDATE iam_snapshot SET doc = ?", args: []any{other.Doc}},
		{name: "content and tags of another key's copy", sql: "UPDATE iam_snapshot SET doc = ?, tag = ?, confirmed_tag = ?, confirmed = ?",
			args: []any{other.Doc, other.Tag, other.ConfirmedTag, other.Confirmed}},
		{name: "copy from another file with the same key", sql: "UPDATE iam_snapshot SET doc = ?, tag = ?, confirmed_tag = ?",
			args: []any{twin.Doc, twin.Tag, twin.ConfirmedTag}},
		{name: "truncated document", sql: "UPDATE iam_snapshot SET doc = substr(doc, 1, length(doc) - 9)"},
		{name: "one byte of the document flipped", sql: "UPDATE iam_snapshot SET doc = substr(doc, 1, 20) || x'ff' || substr(doc, 22)"},
		{name: "revision raised", sql: "UPDATE iam_snapshot SET revision = revision + 1"},
		{name: "revision lowered", sql: "UPDATE iam_snapshot SET revision = revision - 1"},
		{name: "confirmation moved forward", sql: "UPDATE iam_snapshot SET confirmed = confirmed + 3600000000000"},
		{name: "confirmation moved back", sql: "UPDATE iam_snapshot SET confirmed = confirmed - 1"},
		{name: "tag changed", sql: "UPDATE iam_snapshot SET tag = randomblob(32)"},
		{name: "tag truncated", sql: "UPDATE iam_snapshot SET tag = substr(tag, 1, 16)"},
		{name: "confirmation tag changed", sql: "UPDATE iam_snapshot SET confirmed_tag = randomblob(32)"},
		{name: "tags swapped", sql: "UPDATE iam_snapshot SET tag = confirmed_tag, confirmed_tag = tag"},
		{name: "tags removed (old format)", sql: "UPDATE iam_snapshot SET tag = NULL, confirmed_tag = NULL"},
		{name: "tags empty", sql: "UPDATE iam_snapshot SET tag = x'', confirmed_tag = x''"},
		{name: "file identifier changed", sql: "UPDATE iam_snapshot_store SET store_id = randomblob(16)"},
		{name: "wrong key", key: newKey(t)},
		{name: "key one bit off", key: func() []byte { k := bytes.Clone(key); k[31] ^= 1; return k }()},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			file := migrated(t)
			fb := keyed(t, file, key)
			if err := fb.SaveSnapshot(ctx, storetest.CityModel(), rev, storetest.Noon); err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := fb.LoadSnapshot(ctx); err != nil {
				t.Fatalf("the untouched copy: %v", err)
			}
			if c.sql != "" {
				if err := file.DB().Exec(c.sql, c.args...).Error; err != nil {
					t.Fatal(err)
				}
			}
			if c.key != nil {
				fb = keyed(t, file, c.key)
			}
			m, got, _, err := fb.LoadSnapshot(ctx)
			if !errors.Is(err, sqlitestore.ErrSnapshotUnverified) {
				t.Fatalf("LoadSnapshot = revision %d, %d grants, %v; want ErrSnapshotUnverified", got, len(m.Grants), err)
			}
			if len(m.Grants)+len(m.Roles) != 0 || got != 0 {
				t.Errorf("a refused copy came back with content: revision %d, %d roles", got, len(m.Roles))
			}
			for _, k := range [][]byte{key, c.key} {
				if len(k) > 0 && strings.Contains(err.Error(), string(k)) || len(k) > 0 && strings.Contains(err.Error(), fmt.Sprintf("%x", k)) {
					t.Errorf("the error shows the key: %v", err)
				}
			}

			down := errors.New("connection refused")
			a, err := iam.New(ctx, &switchSource{err: down}, iam.WithFallback(fb))
			if err == nil {
				a.Close()
				t.Fatal("New served a copy that fails verification")
			}
			if !errors.Is(err, sqlitestore.ErrSnapshotUnverified) || !errors.Is(err, down) {
				t.Errorf("New: %v; want both the store's error and ErrSnapshotUnverified", err)
			}
		})
	}
}

// TestSnapshotOldFormatRefused migrates a file that an older version wrote
// (no tag columns, an untagged copy): Migrate adds the columns, the old
// copy is refused, and a new save is accepted.
func TestSnapshotOldFormatRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := open(t, filepath.Join(t.TempDir(), "old.db"))
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(`{"v":1,"lines":[["g2","role:root","meta:role"],["g2","role:root","allow:finance.*"],` +
		`["p","user:mallory","role:root","org","00000000000000000000","99999999999999999999","allow"],` +
		`["p","user:mallory","role:root","org","00000000000000000000","99999999999999999999","deny"]]}`))
	w.Close()
	for _, stmt := range []string{
		"CREATE TABLE iam_snapshot (id integer PRIMARY KEY CHECK (id = 1), revision bigint NOT NULL, confirmed bigint NOT NULL, doc blob NOT NULL)",
		"INSERT INTO iam_snapshot (id, revision, confirmed, doc) VALUES (1, 5, 0, ?)",
	} {
		if err := file.DB().Exec(stmt, gz.Bytes()).Error; err != nil {
			t.Fatal(err)
		}
	}
	fb := keyed(t, file, newKey(t))
	if _, _, _, err := fb.LoadSnapshot(ctx); !errors.Is(err, sqlitestore.ErrNotMigrated) {
		t.Errorf("LoadSnapshot before Migrate: %v, want ErrNotMigrated", err)
	}
	for range 2 { // idempotent
		if err := sqlitestore.Migrate(ctx, file.DB()); err != nil {
			t.Fatal(err)
		}
	}
	_, rev, _, err := fb.LoadSnapshot(ctx)
	if !errors.Is(err, sqlitestore.ErrSnapshotUnverified) || !strings.Contains(err.Error(), "no authentication tag") {
		t.Fatalf("LoadSnapshot of an old-format copy: revision %d, %v; want ErrSnapshotUnverified", rev, err)
	}
	// Confirming does not bless it.
	if err := fb.ConfirmSnapshot(ctx, 5, storetest.Noon); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := fb.LoadSnapshot(ctx); !errors.Is(err, sqlitestore.ErrSnapshotUnverified) {
		t.Fatalf("after ConfirmSnapshot: %v; want ErrSnapshotUnverified", err)
	}
	if err := fb.SaveSnapshot(ctx, storetest.CityModel(), 6, storetest.Noon); err != nil {
		t.Fatal(err)
	}
	if _, rev, _, err := fb.LoadSnapshot(ctx); err != nil || rev != 6 {
		t.Fatalf("after a new save: revision %d, %v", rev, err)
	}
}

// TestSnapshotDamaged: a copy that verifies but cannot be decoded (a bug,
// or a document this version does not read) is refused with an error that
// names its revision.
func TestSnapshotDamaged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	for name, doc := range map[string][]byte{
		"empty":          {},
		"not gzip":       []byte("p, user:x, role:admin, org"),
		"not JSON":       gz("{lines: nope"),
		"other version":  gz(`{"v":2,"lines":[]}`),
		"empty line":     gz(`{"v":1,"lines":[[]]}`),
		"unknown ptype":  gz(`{"v":1,"lines":[["x","a"]]}`),
		"short p line":   gz(`{"v":1,"lines":[["p","user:x"]]}`),
		"bad extras":     gz(`{"v":1,"lines":[],"extras":{"v":99}}`),
		"truncated gzip": gz(`{"v":1,"lines":[]}`)[:10],
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fb, _ := fallback(t)
			if err := fb.SaveRawSnapshot(ctx, 7, storetest.Noon, doc); err != nil {
				t.Fatal(err)
			}
			_, _, _, err := fb.LoadSnapshot(ctx)
			if err == nil || errors.Is(err, sqlitestore.ErrNoSnapshot) || errors.Is(err, sqlitestore.ErrSnapshotUnverified) {
				t.Fatalf("LoadSnapshot of a damaged copy: %v", err)
			}
			if !strings.Contains(err.Error(), "revision 7") {
				t.Errorf("error does not name the copy's revision: %v", err)
			}
		})
	}
}

func TestSnapshotUnmigrated(t *testing.T) {
	t.Parallel()
	s := keyed(t, open(t, filepath.Join(t.TempDir(), "bare.db")), newKey(t))
	err := s.SaveSnapshot(context.Background(), storetest.CityModel(), 1, storetest.Noon)
	if !errors.Is(err, sqlitestore.ErrNotMigrated) {
		t.Errorf("SaveSnapshot without Migrate: %v, want ErrNotMigrated", err)
	}
	if _, _, _, err := s.LoadSnapshot(context.Background()); !errors.Is(err, sqlitestore.ErrNotMigrated) {
		t.Errorf("LoadSnapshot without Migrate: %v, want ErrNotMigrated", err)
	}
}

// switchSource is a policy source that can be made unreachable.
type switchSource struct {
	mu  sync.Mutex
	m   rbac.Model
	rev int64
	err error
}

func (s *switchSource) LoadPolicy(context.Context) (rbac.Model, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return rbac.Model{}, 0, s.err
	}
	return s.m, s.rev, nil
}

func (s *switchSource) set(m rbac.Model, rev int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m, s.rev, s.err = m, rev, err
}

// eventually polls cond every 10 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAuthorizerStartsFromFallback runs an Authorizer that keeps a copy in
// a SQLite file, then starts another while the store is unreachable, and
// brings the store back.
func TestAuthorizerStartsFromFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb, _ := fallback(t)
	m := storetest.CityModel()
	clock := iam.WithClock(iamtest.Clock(storetest.Noon))
	down := errors.New("connection refused")
	const sub, x, scope = "user:carol", "finance.budget.approve", "dept:finance"

	// The store is down and nothing was kept: New fails, saying both.
	src := &switchSource{err: down}
	if _, err := iam.New(ctx, src, clock, iam.WithFallback(fb)); !errors.Is(err, down) || !errors.Is(err, sqlitestore.ErrNoSnapshot) {
		t.Fatalf("New with the store down and no copy: %v", err)
	}

	// A running Authorizer keeps a copy of what it loads.
	src.set(m, 9, nil)
	first, err := iam.New(ctx, src, clock, iam.WithFallback(fb))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the copy to be saved", func() bool {
		_, rev, _, err := fb.LoadSnapshot(ctx)
		return err == nil && rev == 9
	})
	first.Close()
	if d, err := first.Check(ctx, sub, x, scope); err == nil || d.Allowed {
		t.Fatalf("closed Authorizer answered %+v, %v", d, err)
	}
	want, err := iam.New(ctx, iamtest.NewStore(m), clock)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if err := want.Require(ctx, sub, x, scope); err != nil {
		t.Fatalf("the fixture must allow %s %s at %s: %v", sub, x, scope, err)
	}

	// The store goes down; a new process starts from the copy.
	src.set(rbac.Model{}, 0, down)
	a, err := iam.New(ctx, src, clock, iam.WithFallback(fb))
	if err != nil {
		t.Fatalf("New with the store down and a copy kept: %v", err)
	}
	defer a.Close()
	h := a.Health()
	if !h.Fallback || h.Revision != 9 || !errors.Is(h.LastError, down) || h.LastConfirmed.IsZero() {
		t.Fatalf("health while serving the copy: %+v", h)
	}
	if err := a.Require(ctx, sub, x, scope); err != nil {
		t.Fatalf("check from the copy: %v", err)
	}

	// The store comes back with a revocation: the Authorizer finds it.
	revoked := storetest.CityModel()
	kept := revoked.Grants[:0]
	for _, g := range revoked.Grants {
		if g.Subject != sub {
			kept = append(kept, g)
		}
	}
	revoked.Grants = kept
	src.set(revoked, 10, nil)
	eventually(t, "the store to be read again", func() bool { return !a.Health().Fallback && a.Revision() == 10 })
	if d, err := a.Check(ctx, sub, x, scope); err != nil || d.Allowed {
		t.Fatalf("after the store came back with a revoke: %+v, %v", d, err)
	}
	eventually(t, "the new revision to be kept", func() bool {
		_, rev, _, err := fb.LoadSnapshot(ctx)
		return err == nil && rev == 10
	})
}

// TestFallbackCopyHonoursStaleness starts from a copy confirmed longer ago
// than the staleness bound: checks fail closed.
func TestFallbackCopyHonoursStaleness(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb, _ := fallback(t)
	if err := fb.SaveSnapshot(ctx, storetest.CityModel(), 3, storetest.Noon.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	src := &switchSource{err: errors.New("connection refused")}
	a, err := iam.New(ctx, src, iam.WithClock(iamtest.Clock(storetest.Noon)), iam.WithFallback(fb), iam.WithMaxStaleness(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d, err := a.Check(ctx, "user:carol", "finance.budget.approve", "dept:finance")
	if !errors.Is(err, iam.ErrStale) || d.Allowed {
		t.Fatalf("check from a copy confirmed an hour ago with a one-minute bound: %+v, %v; want ErrStale", d, err)
	}
	if h := a.Health(); !h.Stale || !h.Fallback {
		t.Errorf("health: %+v, want stale and on the fallback", h)
	}
}

// TestFallbackCopyThatDoesNotCompile refuses to start from it.
func TestFallbackCopyThatDoesNotCompile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb, _ := fallback(t)
	// An authentic copy whose grant names a role that does not exist,
	// written as lines; SaveSnapshot itself would refuse it.
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(`{"v":1,"lines":[["p","user:x","role:ghost","org","00000000000000000000","99999999999999999999","allow"]]}`))
	w.Close()
	if err := fb.SaveRawSnapshot(ctx, 5, storetest.Noon, b.Bytes()); err != nil {
		t.Fatal(err)
	}
	down := errors.New("connection refused")
	_, err := iam.New(ctx, &switchSource{err: down}, iam.WithFallback(fb))
	if err == nil || !errors.Is(err, down) || !errors.Is(err, rbac.ErrInvalidInput) && !errors.Is(err, rbac.ErrNotFound) {
		t.Fatalf("New from a copy that does not compile: %v", err)
	}
}

// The fallback copy keeps the rows the policy store loaded the model
// without, so that a process serving the copy still denies what they block.
func TestSnapshotKeepsQuarantine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb, _ := fallback(t)
	m := storetest.CityModel()
	m.Quarantine = []rbac.QuarantinedRow{{ID: 7, PType: "p", Values: []string{"user:alice", "role:clerk", "org", "00000000000000000000", "99999999999999999999", "deny"},
		Reason: "deny line without its allow twin", Blocks: []rbac.Subject{"user:alice"}}}
	if err := fb.SaveSnapshot(ctx, m, 3, storetest.Noon); err != nil {
		t.Fatal(err)
	}
	got, _, _, err := fb.LoadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Quarantine, m.Quarantine) {
		t.Fatalf("copy's quarantine %+v, want %+v", got.Quarantine, m.Quarantine)
	}
	p, err := rbac.Compile(got)
	if err != nil {
		t.Fatal(err)
	}
	if p.Allows("user:alice", "permits.application.read", "facility:hall-1", storetest.Noon) {
		t.Error("the copy allows a subject a quarantined row blocks")
	}
}

// TestSnapshotFutureConfirmationDoesNotStick: a confirmation time in the
// future (a clock that ran ahead) kept in the copy is replaced by the next
// real confirmation, even though that one is earlier, so that the copy's
// confirmation time keeps following the real ones.
func TestSnapshotFutureConfirmationDoesNotStick(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb, _ := fallback(t)
	now := time.Now().UTC()
	for _, ahead := range []time.Time{now.Add(time.Hour), now.Add(100 * 365 * 24 * time.Hour), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if err := fb.SaveSnapshot(ctx, storetest.CityModel(), 7, ahead); err != nil {
			t.Fatal(err)
		}
		actual := time.Now().UTC()
		if err := fb.ConfirmSnapshot(ctx, 7, actual); err != nil {
			t.Fatal(err)
		}
		if _, _, got, err := fb.LoadSnapshot(ctx); err != nil || !got.Equal(actual) {
			t.Errorf("copy confirmed at %v, then confirmed at %v: LoadSnapshot says %v, %v; want the real confirmation", ahead, actual, got, err)
		}
		// Later real confirmations move it forward again.
		later := actual.Add(time.Millisecond)
		if err := fb.ConfirmSnapshot(ctx, 7, later); err != nil {
			t.Fatal(err)
		}
		if _, _, got, err := fb.LoadSnapshot(ctx); err != nil || !got.Equal(later) {
			t.Errorf("LoadSnapshot says %v, %v; want %v", got, err, later)
		}
	}
}
