package sqlitestore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/rbac"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "policy")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlitestore.Open(filepath.Join(dir, "policy.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	// Open runs no DDL; a service's migration step (or its first start) does.
	if err := sqlitestore.Migrate(ctx, store.DB()); err != nil {
		log.Fatal(err)
	}

	rev, err := store.Apply(ctx, rbac.Change{
		PutRoles: []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grant:    []rbac.Grant{{Subject: "user:alice", Role: "clerk", Scope: "dept:building"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revision after apply:", rev)

	// A name holding a comma is refused before anything is written.
	_, err = store.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:bob,admin", Role: "clerk", Scope: "org"}}})
	fmt.Println("refused as invalid input:", errors.Is(err, rbac.ErrInvalidInput))

	m, rev, err := store.LoadPolicy(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revision:", rev)
	for _, g := range m.Grants {
		fmt.Println("grant:", g.Subject, g.Role, g.Scope)
	}
	// Output:
	// revision after apply: 1
	// refused as invalid input: true
	// revision: 1
	// grant: user:alice clerk dept:building
}
