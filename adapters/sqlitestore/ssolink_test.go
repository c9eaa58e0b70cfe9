package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
	"github.com/civic-platform/security/session/sso/ssotest"
)

func newSSOLinks(t testing.TB) (sso.Links, signin.Users) {
	t.Helper()
	st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "links.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := sqlitestore.MigrateIdentity(ctx, st.DB()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := sqlitestore.MigrateSSOLinks(ctx, st.DB()); err != nil {
			t.Fatal(err)
		}
	}
	links, err := sqlitestore.NewSSOLinks(st.DB())
	if err != nil {
		t.Fatal(err)
	}
	users, err := sqlitestore.NewIdentityStore(st.DB())
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
