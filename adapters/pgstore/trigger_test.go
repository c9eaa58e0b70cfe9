package pgstore_test

import (
	"context"
	"testing"

	gormadapter "github.com/casbin/gorm-adapter/v3"
	"gorm.io/gorm"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/gormstore/storetest"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
)

// TestRowsWrittenElsewhereMoveTheRevision checks the trigger Migrate puts
// on casbin_rule: writes that bypass the Store move the revision once per
// transaction, the Store's own writes move it exactly once, and the
// revision a writer gets back is the one committed.
func TestRowsWrittenElsewhereMoveTheRevision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, _ := testdb.PostgresSchemaDSN(t)
	db := openDSN(t, dsn)
	if err := pgstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := pgstore.Migrate(ctx, db); err != nil { // idempotent, trigger included
		t.Fatalf("second Migrate: %v", err)
	}
	s := newStore(t, db)
	rev := func() int64 {
		t.Helper()
		r, err := s.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	step := func(what string, want int64, f func() error) {
		t.Helper()
		before := rev()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := rev() - before; got != want {
			t.Errorf("%s moved the revision by %d, want %d", what, got, want)
		}
	}

	step("Replace", 1, func() error {
		r, err := s.Replace(ctx, storetest.CityModel())
		if err == nil && r != rev() {
			t.Errorf("Replace returned revision %d, the store holds %d", r, rev())
		}
		return err
	})
	step("Apply", 1, func() error {
		r, err := s.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:zoe", Role: "clerk", Scope: "org"}}})
		if err == nil && r != rev() {
			t.Errorf("Apply returned revision %d, the store holds %d", r, rev())
		}
		return err
	})
	line := []any{"p", "user:yan", "role:clerk", "org", "00000000000000000000", "99999999999999999999", "allow"}
	step("an INSERT by hand", 1, func() error {
		return db.Exec("INSERT INTO casbin_rule (ptype, v0, v1, v2, v3, v4, v5) VALUES (?, ?, ?, ?, ?, ?, ?)", line...).Error
	})
	step("three statements in one transaction", 1, func() error {
		return db.Transaction(func(tx *gorm.DB) error {
			for _, sql := range []string{
				"UPDATE casbin_rule SET v2 = 'dept:building' WHERE v0 = 'user:yan' AND v5 = 'allow'",
				"DELETE FROM casbin_rule WHERE v0 = 'user:yan'",
				"DELETE FROM casbin_rule WHERE v0 = 'nobody'",
			} {
				if err := tx.Exec(sql).Error; err != nil {
					return err
				}
			}
			return nil
		})
	})
	step("a statement that changes no row", 1, func() error {
		return db.Exec("DELETE FROM casbin_rule WHERE v0 = 'nobody'").Error
	})

	// A plain Casbin enforcer saving through gorm-adapter (a truncate and
	// an insert, each on its own) is noticed too.
	quiet := db.Session(&gorm.Session{})
	gormadapter.TurnOffAutoMigrate(quiet)
	adapter, err := gormadapter.NewAdapterByDB(quiet)
	if err != nil {
		t.Fatal(err)
	}
	enf, err := casbinx.NewEnforcerFromLines(nil)
	if err != nil {
		t.Fatal(err)
	}
	enf.SetAdapter(adapter)
	if err := enf.LoadPolicy(); err != nil {
		t.Fatal(err)
	}
	before := rev()
	if err := enf.SavePolicy(); err != nil {
		t.Fatal(err)
	}
	if rev() <= before {
		t.Errorf("gorm-adapter's SavePolicy left the revision at %d", rev())
	}
	step("TRUNCATE", 1, func() error { return db.Exec("TRUNCATE casbin_rule").Error })
}
