package pgstore_test

import (
	"context"
	"testing"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/signin/signintest"
)

func TestIdentityStore(t *testing.T) {
	signintest.Run(t, newIdentityStore)
	signintest.RunAdversarial(t, newIdentityStore)
}

func newIdentityStore(t testing.TB) signin.Store {
	{
		db := testdb.Postgres(t)
		if err := pgstore.MigrateIdentity(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		if err := pgstore.MigrateIdentity(context.Background(), db); err != nil {
			t.Fatalf("second MigrateIdentity: %v", err)
		}
		s, err := pgstore.NewIdentityStore(db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}
