package security_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// Example is a service's first use of the module: a policy store, an
// Authorizer over it, and a permission check in a handler whose denial a
// caller branches on with errors.Is. It uses the embedded store, which
// needs no server; a service sharing its policy across processes passes
// pgstore.New(db) to iam.New instead.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "security")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(filepath.Join(dir, "policy.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := sqlitestore.Migrate(ctx, store.DB()); err != nil {
		log.Fatal(err)
	}
	if _, err := store.Replace(ctx, rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:building"}},
		Roles: []rbac.Role{
			{ID: "permit-clerk", Permissions: []rbac.Permission{"permits.application.read", "permits.application.create"}},
			{ID: "cbo", Inherits: []rbac.RoleID{"permit-clerk"}, Permissions: []rbac.Permission{"permits.*"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:alice", Role: "permit-clerk", Scope: "dept:building"},
			{Subject: "user:carol", Role: "cbo", Scope: "org"},
		},
	}); err != nil {
		log.Fatal(err)
	}

	authz, err := iam.New(ctx, store) // fails rather than start with an empty policy
	if err != nil {
		log.Fatal(err)
	}
	defer authz.Close()

	for _, subject := range []iam.Subject{"user:alice", "user:carol"} {
		err := authz.Require(ctx, subject, "permits.application.approve", "dept:building")
		switch {
		case err == nil:
			fmt.Println(subject, "may approve")
		case errors.Is(err, iam.ErrDenied):
			fmt.Println(subject, "is denied: 403")
		default:
			fmt.Println(subject, "authorization unavailable: 503")
		}
	}
	// Output:
	// user:alice is denied: 403
	// user:carol may approve
}
