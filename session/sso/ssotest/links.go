package ssotest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
)

// NewLinks returns an empty links store and the user store its links
// refer to (the same database for SQL stores).
type NewLinks func(t testing.TB) (sso.Links, signin.Users)

// RunLinks checks a [sso.Links] implementation.
func RunLinks(t *testing.T, newLinks NewLinks) {
	ctx := context.Background()
	setup := func(t *testing.T) sso.Links {
		t.Helper()
		links, users := newLinks(t)
		for _, u := range []signin.User{{ID: "sgirard", Email: "sam.girard@lakeview.ca"}, {ID: "jtremblay", Email: "julie.tremblay@lakeview.ca"}} {
			u, err := u.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			if err := users.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		return links
	}
	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		links := setup(t)
		if _, err := links.Link(ctx, "entra", "t/o"); !errors.Is(err, sso.ErrNotFound) {
			t.Fatalf("missing link: %v", err)
		}
		created := time.Date(2026, 11, 26, 9, 0, 0, 123, time.UTC)
		g := []rbac.GrantKey{{Subject: "user:sgirard", Role: "bylaw-officer", Scope: "dept:bylaw"}}
		if err := links.CreateLink(ctx, sso.Link{Provider: "entra", Key: "t/o", UserID: "sgirard", Created: created, Grants: g}); err != nil {
			t.Fatal(err)
		}
		l, err := links.Link(ctx, "entra", "t/o")
		if err != nil || l.UserID != "sgirard" || !l.Created.Equal(created) || !slices.Equal(l.Grants, g) || len(l.Groups) != 0 {
			t.Fatalf("link = %+v, %v", l, err)
		}
		groups := []rbac.Subject{"group:bylaw-staff"}
		if err := links.SetMapped(ctx, "entra", "t/o", nil, groups); err != nil {
			t.Fatal(err)
		}
		l, err = links.Link(ctx, "entra", "t/o")
		if err != nil || len(l.Grants) != 0 || !slices.Equal(l.Groups, groups) {
			t.Fatalf("after SetMapped: %+v, %v", l, err)
		}
		if err := links.SetMapped(ctx, "entra", "missing", nil, nil); !errors.Is(err, sso.ErrNotFound) {
			t.Errorf("SetMapped on a missing link: %v", err)
		}
	})
	t.Run("one user per identity", func(t *testing.T) {
		t.Parallel()
		links := setup(t)
		if err := links.CreateLink(ctx, sso.Link{Provider: "entra", Key: "t/o", UserID: "sgirard"}); err != nil {
			t.Fatal(err)
		}
		if err := links.CreateLink(ctx, sso.Link{Provider: "entra", Key: "t/o", UserID: "jtremblay"}); !errors.Is(err, sso.ErrExists) {
			t.Fatalf("second link of one identity: %v", err)
		}
		// The same key at another provider is another identity; a user
		// may have several.
		if err := links.CreateLink(ctx, sso.Link{Provider: "adfs", Key: "t/o", UserID: "sgirard"}); err != nil {
			t.Fatal(err)
		}
		// Keys compare exactly: case, look-alikes and SQL metacharacters
		// are different keys, never a match.
		for _, k := range []string{"T/O", "t/o ", "t/о", "t/o' OR '1'='1", "t/%"} {
			if l, err := links.Link(ctx, "entra", k); !errors.Is(err, sso.ErrNotFound) {
				t.Errorf("Link(%q) = %+v, %v; want ErrNotFound", k, l, err)
			}
		}
	})
	t.Run("parallel first sign-ins leave one link", func(t *testing.T) {
		t.Parallel()
		links := setup(t)
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				user := "sgirard"
				if i%2 == 1 {
					user = "jtremblay"
				}
				err := links.CreateLink(ctx, sso.Link{Provider: "entra", Key: "race", UserID: user})
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, sso.ErrExists):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("%d links created, want 1", ok.Load())
		}
	})
}
