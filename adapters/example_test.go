package adapters_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// Example builds the same Authorizer over two stores: memstore for a test
// and sqlitestore for a service without a database server. The service's
// code after iam.New does not depend on the store; pgstore, for a policy
// shared by every process, plugs in the same way.
func Example() {
	ctx := context.Background()
	model := rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:building"}, {Scope: "ward:7"}},
		Roles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grants: []rbac.Grant{{Subject: "user:alice", Role: "clerk", Scope: "ward:7"}},
	}

	inMemory, err := memstore.New(model)
	if err != nil {
		log.Fatal(err)
	}

	dir, err := os.MkdirTemp("", "adapters")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	embedded, err := sqlitestore.Open(filepath.Join(dir, "policy.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer embedded.Close()
	if err := sqlitestore.Migrate(ctx, embedded.DB()); err != nil {
		log.Fatal(err)
	}
	if _, err := embedded.Replace(ctx, model); err != nil {
		log.Fatal(err)
	}

	for _, store := range []struct {
		name string
		src  iam.PolicySource
	}{{"memstore", inMemory}, {"sqlitestore", embedded}} {
		authz, err := iam.New(ctx, store.src)
		if err != nil {
			log.Fatal(err)
		}
		atWard, _ := authz.Check(ctx, "user:alice", "permits.application.read", "ward:7")
		atDept, _ := authz.Check(ctx, "user:alice", "permits.application.read", "dept:building")
		fmt.Printf("%s: ward:7 %v, dept:building %v\n", store.name, atWard.Allowed, atDept.Allowed)
		authz.Close()
	}
	// Output:
	// memstore: ward:7 true, dept:building false
	// sqlitestore: ward:7 true, dept:building false
}
