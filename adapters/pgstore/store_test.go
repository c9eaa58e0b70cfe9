package pgstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/gormstore/storetest"
	"github.com/civic-platform/security/internal/testdb"
)

// The store satisfies iam's interfaces; only tests import iam.
var (
	_ iam.PolicySource = (*pgstore.Store)(nil)
	_ iam.PolicyWriter = (*pgstore.Store)(nil)
)

// openDSN opens a handle of its own on dsn, closed when the test ends.
func openDSN(t *testing.T, dsn string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	return db
}

func newStore(t *testing.T, db *gorm.DB) *pgstore.Store {
	t.Helper()
	s, err := pgstore.New(db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) storetest.Fixture {
			dsn, _ := testdb.PostgresSchemaDSN(t)
			db := openDSN(t, dsn)
			if err := pgstore.Migrate(context.Background(), db); err != nil {
				t.Fatal(err)
			}
			// A second pool on the same schema stands in for another process.
			return storetest.Fixture{Store: newStore(t, db), DB: db, Second: newStore(t, openDSN(t, dsn))}
		},
		Unmigrated: func(t *testing.T) (storetest.Store, *gorm.DB) {
			db := testdb.Postgres(t)
			return newStore(t, db), db
		},
		Migrate:         pgstore.Migrate,
		MaxValueLen:     100,
		StoresConflicts: true,
		KeepsText:       true,
	})
}

// New runs no statement, so it works (and creates nothing) even before
// the schema exists; the first call says what is missing.
func TestNewRunsNoDDL(t *testing.T) {
	t.Parallel()
	db := testdb.Postgres(t)
	s := newStore(t, db)
	for _, table := range []string{pgstore.RuleTable, pgstore.RevisionTable} {
		if db.Migrator().HasTable(table) {
			t.Errorf("New created %s", table)
		}
	}
	_, _, err := s.LoadPolicy(context.Background())
	if !errors.Is(err, pgstore.ErrNotMigrated) {
		t.Fatalf("err = %v, want ErrNotMigrated", err)
	}
	t.Log(err)
}

func TestNewRefusesOtherDialects(t *testing.T) {
	t.Parallel()
	if _, err := pgstore.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	db, err := gorm.Open(sqlite.Open(t.TempDir()+"/x.db"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := db.DB(); err == nil {
		defer s.Close()
	}
	if _, err := pgstore.New(db); err == nil {
		t.Error("New accepted a SQLite handle")
	}
}
