package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// Example keeps a policy in memory, as a test or a service that loads its
// policy from a file at start-up does, and writes a grant through an Admin.
// An invalid change is refused and leaves the store as it was.
func Example() {
	ctx := context.Background()
	store, err := memstore.New(rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:building"}},
		Roles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	authz, err := iam.New(ctx, store)
	if err != nil {
		log.Fatal(err)
	}
	defer authz.Close()
	admin := iam.NewAdmin(authz, store)

	rev, err := admin.Assign(ctx, iam.Grant{Subject: "user:alice", Role: "clerk", Scope: "dept:building"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revision:", rev)
	d, err := authz.Check(ctx, "user:alice", "permits.application.read", "dept:building")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice may read:", d.Allowed)

	_, err = admin.Assign(ctx, iam.Grant{Subject: "user:bob", Role: "no-such-role", Scope: "dept:building"})
	fmt.Println("unknown role refused:", errors.Is(err, rbac.ErrNotFound))
	_, rev, _ = store.LoadPolicy(ctx)
	fmt.Println("revision:", rev)
	// Output:
	// revision: 2
	// alice may read: true
	// unknown role refused: true
	// revision: 2
}
