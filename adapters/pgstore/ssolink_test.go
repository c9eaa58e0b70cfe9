package pgstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
	"github.com/civic-platform/security/session/sso/ssotest"
)

func newSSOLinks(t testing.TB) (sso.Links, signin.Users) {
	t.Helper()
	db := testdb.Postgres(t)
	ctx := context.Background()
	if err := pgstore.MigrateIdentity(ctx, db); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := pgstore.MigrateSSOLinks(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	links, err := pgstore.NewSSOLinks(db)
	if err != nil {
		t.Fatal(err)
	}
	users, err := pgstore.NewIdentityStore(db)
	if err != nil {
		t.Fatal(err)
	}
	return links, users
}

func TestSSOLinks(t *testing.T) {
	ssotest.RunLinks(t, newSSOLinks)
}

func TestSSOLinkNeedsUser(t *testing.T) {
	links, _ := newSSOLinks(t)
	err := links.CreateLink(context.Background(), sso.Link{Provider: "entra", Key: "k", UserID: "nobody"})
	if !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("link to a missing user: %v, want ErrNotFound", err)
	}
}
