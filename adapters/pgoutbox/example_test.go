package pgoutbox_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/civic-platform/security/adapters/pgoutbox"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// printer is the service's event consumer.
type printer struct{}

func (printer) Record(_ context.Context, e iam.Event) error {
	fmt.Println("event:", e.Type, e.Subject)
	return nil
}

// Example writes a grant with NewOutboxAdmin, which stores the change and
// its event in one transaction, then relays the outbox to the service's
// sink. The relay runs the same SQL on the embedded store as on
// PostgreSQL, so the example needs no server; a PostgreSQL service passes
// its pgstore handle instead and runs the relay with Relay.Run.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "outbox")
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
		Roles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
	}); err != nil {
		log.Fatal(err)
	}
	authz, err := iam.New(ctx, store)
	if err != nil {
		log.Fatal(err)
	}
	defer authz.Close()

	admin := iam.NewOutboxAdmin(authz, store)
	if _, err := admin.Assign(ctx, iam.Grant{Subject: "user:alice", Role: "clerk", Scope: "dept:building"}); err != nil {
		log.Fatal(err)
	}

	// Dedupe drops an event the relay delivers again after a crash.
	relay, err := pgoutbox.New(store.DB(), pgoutbox.Dedupe(printer{}))
	if err != nil {
		log.Fatal(err)
	}
	pending, err := relay.Pending(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pending:", pending)
	n, err := relay.Drain(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("relayed:", n)
	// Output:
	// pending: 1
	// event: role.assigned user:alice
	// relayed: 1
}
