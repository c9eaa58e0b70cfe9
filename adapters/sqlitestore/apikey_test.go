package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/apikey/apikeytest"
)

func TestAPIKeyStore(t *testing.T) {
	apikeytest.Run(t, func(t testing.TB) apikey.Store {
		st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "keys.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		for range 2 { // idempotent
			if err := sqlitestore.MigrateAPIKeys(context.Background(), st.DB()); err != nil {
				t.Fatal(err)
			}
		}
		s, err := sqlitestore.NewAPIKeyStore(st.DB())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestAPIKeyStoreNotMigrated(t *testing.T) {
	st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "bare.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, _ := sqlitestore.NewAPIKeyStore(st.DB())
	if _, _, err := s.Key(context.Background(), "aaaaaaaaaaaaaaaa"); !errors.Is(err, sqlitestore.ErrNotMigrated) || errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotMigrated", err)
	}
}
