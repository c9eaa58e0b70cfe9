package sqlitestore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
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
		PutScopes: []rbac.ScopeNode{{Scope: "dept:building"}},
		PutRoles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grant:     []rbac.Grant{{Subject: "user:alice", Role: "clerk", Scope: "dept:building"}},
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

// unreachable is a policy source whose database is down.
type unreachable struct{}

func (unreachable) LoadPolicy(context.Context) (rbac.Model, int64, error) {
	return rbac.Model{}, 0, errors.New("dial tcp 10.0.0.5:5432: connection refused")
}

// A service keeps an authenticated copy of its policy in a local file with
// iam.WithFallback, so that it can start while its store is unreachable.
func ExampleSnapshotStore() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fallback")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	file, err := sqlitestore.Open(filepath.Join(dir, "iam-fallback.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer file.Close()
	if err := sqlitestore.Migrate(ctx, file.DB()); err != nil {
		log.Fatal(err)
	}
	// The key authenticates the copy. A service reads it from its secret
	// store, never from the file's directory; here it is made up.
	key := make([]byte, sqlitestore.MinSnapshotKeyLen)
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	fb, err := sqlitestore.NewSnapshotStore(file, key)
	if err != nil {
		log.Fatal(err)
	}

	// What an earlier run of the service saved (an Authorizer with
	// iam.WithFallback(fb) saves every revision it loads).
	policy := rbac.Model{
		Roles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grants: []rbac.Grant{{Subject: "user:alice", Role: "clerk", Scope: "org"}},
	}
	if err := fb.SaveSnapshot(ctx, policy, 41, time.Now()); err != nil {
		log.Fatal(err)
	}

	// The store is down at start: the Authorizer serves the copy.
	authz, err := iam.New(ctx, unreachable{}, iam.WithFallback(fb), iam.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer authz.Close()
	h := authz.Health()
	fmt.Println("serving the copy:", h.Fallback, "at revision", h.Revision)
	fmt.Println("store error:", h.LastError)
	d, err := authz.Check(ctx, "user:alice", "permits.application.read", "org")
	fmt.Println("allowed:", d.Allowed, err)
	// Output:
	// serving the copy: true at revision 41
	// store error: dial tcp 10.0.0.5:5432: connection refused
	// allowed: true <nil>
}
