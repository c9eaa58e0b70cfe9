package gormstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/rbac"
)

// Example is how a SQL store is built on the shared engine: a Dialect
// names the store and says how to find a table, and everything else —
// casbin_rule rows, the revision counter, the outbox — is the engine's.
// Before Migrate the store reports ErrNotMigrated; afterwards a change is
// one transaction that bumps the revision.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gormstore")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "policy.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	d := gormstore.Dialect{
		Name:        "mystore",
		TableExists: "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
	}
	store, err := gormstore.New(db, d)
	if err != nil {
		log.Fatal(err)
	}

	_, _, err = store.LoadPolicy(ctx)
	fmt.Println("before Migrate:", errors.Is(err, gormstore.ErrNotMigrated))

	if err := gormstore.Migrate(ctx, db, d); err != nil {
		log.Fatal(err)
	}
	rev, err := store.Apply(ctx, rbac.Change{
		PutScopes: []rbac.ScopeNode{{Scope: "dept:building"}},
		PutRoles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grant:     []rbac.Grant{{Subject: "user:alice", Role: "clerk", Scope: "dept:building"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revision:", rev)
	var rows int64
	if err := db.Table(gormstore.RuleTable).Count(&rows).Error; err != nil {
		log.Fatal(err)
	}
	fmt.Println("casbin_rule rows:", rows)
	// Output:
	// before Migrate: true
	// revision: 1
	// casbin_rule rows: 5
}
