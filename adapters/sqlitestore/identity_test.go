package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/signin/signintest"
)

func newIdentityStore(t testing.TB) signin.Store {
	t.Helper()
	st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := sqlitestore.MigrateIdentity(context.Background(), st.DB()); err != nil {
		t.Fatal(err)
	}
	if err := sqlitestore.MigrateIdentity(context.Background(), st.DB()); err != nil {
		t.Fatalf("second MigrateIdentity: %v", err)
	}
	s, err := sqlitestore.NewIdentityStore(st.DB())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIdentityStore(t *testing.T) {
	signintest.Run(t, newIdentityStore)
	signintest.RunAdversarial(t, newIdentityStore)
}

func TestIdentityStoreNotMigrated(t *testing.T) {
	st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "bare.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := sqlitestore.NewIdentityStore(st.DB())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByEmail(context.Background(), "a@b.ca"); !errors.Is(err, sqlitestore.ErrNotMigrated) {
		t.Fatalf("err = %v, want ErrNotMigrated", err)
	}
}
