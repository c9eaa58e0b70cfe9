package sqlitestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
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
