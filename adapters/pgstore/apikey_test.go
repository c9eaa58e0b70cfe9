package pgstore_test

import (
	"context"
	"testing"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/apikey/apikeytest"
)

func TestAPIKeyStore(t *testing.T) {
	apikeytest.Run(t, func(t testing.TB) apikey.Store {
		db := testdb.Postgres(t)
		for range 2 { // idempotent
			if err := pgstore.MigrateAPIKeys(context.Background(), db); err != nil {
				t.Fatal(err)
			}
		}
		s, err := pgstore.NewAPIKeyStore(db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
