package pgstore_test

import (
	"context"
	"fmt"
	"log"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/iam"
)

// Example shows a service that cannot reach its PostgreSQL server at
// start-up: pgstore.New runs no statement, so building the store succeeds,
// and iam.New fails instead of starting with an empty policy. The DSN names
// a loopback port where nothing listens; a real service passes its own and
// runs pgstore.Migrate in its migration step.
func Example() {
	ctx := context.Background()
	dsn := "postgres://iam@127.0.0.1:1/iam?sslmode=disable&connect_timeout=2"
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{DisableAutomaticPing: true})
	if err != nil {
		log.Fatal(err)
	}
	store, err := pgstore.New(db)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("store built without a connection")

	authz, err := iam.New(ctx, store)
	if err != nil {
		fmt.Println("authorization unavailable; not serving")
		return
	}
	defer authz.Close()
	fmt.Println("serving")
	// Output:
	// store built without a connection
	// authorization unavailable; not serving
}
