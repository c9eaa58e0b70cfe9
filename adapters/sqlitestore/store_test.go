package sqlitestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gormadapter "github.com/casbin/gorm-adapter/v3"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/internal/gormstore/storetest"
	"github.com/civic-platform/security/rbac"
)

// The store satisfies iam's interfaces; only tests import iam.
var (
	_ iam.PolicySource   = (*sqlitestore.Store)(nil)
	_ iam.PolicyWriter   = (*sqlitestore.Store)(nil)
	_ iam.CompiledSource = (*sqlitestore.Store)(nil)
	_ iam.SnapshotStore  = (*sqlitestore.SnapshotStore)(nil)
)

// open opens path with Open and closes it when the test ends.
func open(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) storetest.Fixture {
			path := filepath.Join(t.TempDir(), "policy.db")
			s := open(t, path)
			if err := sqlitestore.Migrate(context.Background(), s.DB()); err != nil {
				t.Fatal(err)
			}
			// A second pool on the same file stands in for another process.
			return storetest.Fixture{Store: s, DB: s.DB(), Second: open(t, path)}
		},
		Unmigrated: func(t *testing.T) (storetest.Store, *gorm.DB) {
			db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "empty.db")), &gorm.Config{Logger: logger.Discard})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if s, err := db.DB(); err == nil {
					s.Close()
				}
			})
			s, err := sqlitestore.New(db)
			if err != nil {
				t.Fatal(err)
			}
			return s, db
		},
		Migrate:         sqlitestore.Migrate,
		MaxValueLen:     100,
		StoresConflicts: true,
		KeepsText:       true,
	})
}

// Open on a file path runs no DDL: the file has no tables until Migrate.
func TestOpenRunsNoDDL(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "policy.db"))
	for _, table := range []string{sqlitestore.RuleTable, sqlitestore.RevisionTable} {
		if s.DB().Migrator().HasTable(table) {
			t.Errorf("Open created %s", table)
		}
	}
	_, _, err := s.LoadPolicy(context.Background())
	if !errors.Is(err, sqlitestore.ErrNotMigrated) {
		t.Fatalf("err = %v, want ErrNotMigrated", err)
	}
}

// Open sets WAL, so readers do not wait for a writer.
func TestOpenUsesWAL(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "policy.db"))
	var mode string
	if err := s.DB().Raw("PRAGMA journal_mode").Scan(&mode).Error; err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestOpenRefusesNonFiles(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"", ":memory:", "policy.db?mode=memory"} {
		if s, err := sqlitestore.Open(path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// The policy survives closing and reopening the file.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "policy.db")
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitestore.Migrate(ctx, s.DB()); err != nil {
		t.Fatal(err)
	}
	rev, err := s.Replace(ctx, storetest.CityModel())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	m, got, err := s.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != rev {
		t.Errorf("revision %d after reopening, want %d", got, rev)
	}
	storetest.Equal(t, m, storetest.CityModel(), false)
}

// A Store made by New borrows the handle: Close leaves it open.
func TestCloseLeavesBorrowedHandleOpen(t *testing.T) {
	t.Parallel()
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "x.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	s, err := sqlitestore.New(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Ping(); err != nil {
		t.Errorf("borrowed handle closed: %v", err)
	}
}

func TestNewRefusesOtherDialects(t *testing.T) {
	t.Parallel()
	if _, err := sqlitestore.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// A file another process holds write-locked makes a writer wait, not fail
// at once, and the change lands once the lock is released.
func TestWriterWaitsForLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "policy.db")
	s := open(t, path)
	if err := sqlitestore.Migrate(ctx, s.DB()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Replace(ctx, storetest.CityModel()); err != nil {
		t.Fatal(err)
	}
	other := open(t, path)
	tx := other.DB().Begin()
	if err := tx.Exec("UPDATE " + sqlitestore.RevisionTable + " SET revision = revision").Error; err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Apply(ctx, rbac.Change{Join: []rbac.Membership{{Member: "user:zoe", Group: "group:clerks"}}})
		done <- err
	}()
	// Readers are not blocked by the writer (WAL).
	if _, _, err := s.LoadPolicy(ctx); err != nil {
		t.Errorf("LoadPolicy while another connection writes: %v", err)
	}
	if err := tx.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Apply after the lock was released: %v", err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no WAL file: %v", err)
	}
}

// A process whose store holds one row another tool wrote badly still
// loads, reports the row in Health with its id, checks everyone else as
// before and denies what the row touches; an administrator can still
// revoke other grants and delete the row through the library.
func TestBadRowQuarantinedThroughAuthorizer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "policy.db"))
	if err := sqlitestore.Migrate(ctx, s.DB()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Replace(ctx, storetest.CityModel()); err != nil {
		t.Fatal(err)
	}
	// A lone deny line for alice (her role's deny rules would apply in
	// Casbin), and an assignment whose start is an instant the line format
	// cannot represent.
	bad := []gormadapter.CasbinRule{
		{Ptype: "p", V0: "user:alice", V1: "role:clerk", V2: "org", V3: "00000000000000000000", V4: "99999999999999999999", V5: "deny"},
		{Ptype: "p", V0: "user:zed", V1: "role:cbo", V2: "org", V3: "-0000000000000000001", V4: "99999999999999999999", V5: "allow"},
		{Ptype: "p", V0: "user:zed", V1: "role:cbo", V2: "org", V3: "-0000000000000000001", V4: "99999999999999999999", V5: "deny"},
	}
	if err := s.DB().Create(&bad).Error; err != nil {
		t.Fatal(err)
	}
	noon := func() time.Time { return storetest.Noon }
	a, err := iam.New(ctx, s, iam.WithClock(noon))
	if err != nil {
		t.Fatalf("one bad row stopped the process from loading: %v", err)
	}
	defer a.Close()
	h := a.Health()
	if len(h.Quarantined) != len(bad) {
		t.Fatalf("Health lists %d quarantined rows, want %d: %+v", len(h.Quarantined), len(bad), h.Quarantined)
	}
	var ids []int64
	for i, q := range h.Quarantined {
		if q.ID != int64(bad[i].ID) || q.PType != "p" || q.Values[0] != bad[i].V0 || q.Reason == "" {
			t.Errorf("quarantined row %+v, want row %d", q, bad[i].ID)
		}
		ids = append(ids, q.ID)
	}
	check := func(sub iam.Subject, x iam.Permission, sc iam.Scope) bool {
		t.Helper()
		d, err := a.Check(ctx, sub, x, sc)
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	if check("user:alice", "permits.application.read", "facility:hall-1") {
		t.Error("alice allowed although a quarantined deny line touches her")
	}
	if check("user:zed", "permits.application.read", "org") {
		t.Error("a quarantined assignment granted zed something")
	}
	if !check("user:bob", "permits.application.read", "dept:building") || check("user:bob", "permits.application.approve", "dept:building") {
		t.Error("bob is no longer checked as before")
	}
	if !check("user:carol", "finance.budget.approve", "dept:finance") {
		t.Error("carol is no longer checked as before")
	}
	if _, err := iam.NewOutboxAdmin(a, s).Apply(ctx, iam.Change{Revoke: []iam.GrantKey{{Subject: "user:carol", Role: "finance-manager", Scope: "org"}}}); err != nil {
		t.Fatalf("revoke with a bad row stored: %v", err)
	}
	if check("user:carol", "finance.budget.approve", "dept:finance") {
		t.Error("revoked grant still allows")
	}
	if _, err := iam.NewOutboxAdmin(a, s).Apply(ctx, iam.Change{DeleteRows: ids}); err != nil {
		t.Fatalf("delete the bad rows: %v", err)
	}
	if q := a.Health().Quarantined; len(q) != 0 {
		t.Errorf("Health after the delete: %+v", q)
	}
	var events []gormstore.OutboxRow
	if err := s.DB().Where("type = ?", iam.EventPolicy).Find(&events).Error; err != nil {
		t.Fatal(err)
	}
	if len(events) != len(ids) {
		t.Errorf("%d %s events for deleting %d quarantined rows", len(events), iam.EventPolicy, len(ids))
	}
	for _, e := range events {
		if !strings.Contains(e.Payload, "quarantined row") {
			t.Errorf("event payload %s does not say what was deleted", e.Payload)
		}
	}
	if !check("user:alice", "permits.application.read", "facility:hall-1") {
		t.Error("alice still denied after the bad row was deleted")
	}
}
