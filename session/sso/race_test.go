package sso_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
)

// TestConcurrentFirstSignIns: the same new identity signing in from
// several browsers at once, on two processes, yields one user and one
// link; every sign-in
// either succeeds as that user or is refused with ErrAccountConflict, and
// the user keeps the grants the mappings give.
func TestConcurrentFirstSignIns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, entra())
	// Two processes' services over the same stores: the lock inside one
	// does not help across them.
	other, err := sso.New(f.users, f.links, f.sessions, []sso.Provider{entra()},
		sso.WithAssigner(f.admin), sso.WithEvents(f.events), sso.WithGrantReader(f.read))
	if err != nil {
		t.Fatal(err)
	}
	services := []*sso.Service{f.svc, other}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	users := make([]string, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := services[i%2].SignIn(ctx, staff("oid-race"), session.Client{})
			errs[i], users[i] = err, res.User.ID
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			if users[i] != "sam.girard@lakeview.ca" {
				t.Errorf("signed in as %q", users[i])
			}
		case !errors.Is(err, sso.ErrAccountConflict):
			t.Errorf("err = %v, want nil or ErrAccountConflict", err)
		}
	}
	if ok == 0 {
		t.Fatal("no sign-in succeeded")
	}
	if c := f.links.Count(); c != 1 {
		t.Errorf("%d links, want 1", c)
	}
	want := rbac.GrantKey{Subject: "user:sam.girard@lakeview.ca", Role: "bylaw-officer", Scope: "dept:bylaw"}
	if gs := f.grants(t, want.Subject); !slices.Contains(gs, want) {
		t.Errorf("grants after the race %v, want %v among them", gs, want)
	}
	// And the next sign-in is an ordinary one.
	if _, err := f.svc.SignIn(ctx, staff("oid-race"), session.Client{}); err != nil {
		t.Fatal(err)
	}
}

// TestLinkToMissingUser: a link whose user no longer exists signs nobody
// in, and says so with ErrNoAccount rather than as an outage.
func TestLinkToMissingUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, entra())
	id := staff("oid-gone")
	if err := f.links.CreateLink(ctx, sso.Link{Provider: "entra", Key: id.Key, UserID: "removed@lakeview.ca"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.SignIn(ctx, id, session.Client{})
	if !errors.Is(err, sso.ErrNoAccount) {
		t.Fatalf("err = %v, want ErrNoAccount", err)
	}
	if f.sessions.n != 0 {
		t.Errorf("%d sessions", f.sessions.n)
	}
	if _, err := f.users.UserByEmail(ctx, "sam.girard@lakeview.ca"); !errors.Is(err, signin.ErrNotFound) {
		t.Errorf("user created: %v", err)
	}
}

// TestMappingConflictsWithExistingGrant: a group mapping whose role
// conflicts (segregation of duties) with a grant the linked-by-email user
// already holds is refused; no link or session is created and the
// existing grant stays.
func TestMappingConflictsWithExistingGrant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, entra())
	u, err := signin.User{ID: "sgirard", Email: "sam.girard@lakeview.ca", Department: "bylaw"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.users.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	held := rbac.GrantKey{Subject: "user:sgirard", Role: "ticket-voider", Scope: "dept:bylaw"}
	if _, err := f.admin.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: held.Subject, Role: held.Role, Scope: held.Scope}}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.SignIn(ctx, staff("oid-sod2"), session.Client{})
	if !errors.Is(err, sso.ErrMapping) || !errors.Is(err, rbac.ErrConflict) {
		t.Fatalf("err = %v, want ErrMapping wrapping rbac.ErrConflict", err)
	}
	if n := f.links.Count(); n != 0 {
		t.Errorf("%d links", n)
	}
	if f.sessions.n != 0 {
		t.Errorf("%d sessions", f.sessions.n)
	}
	if gs := f.grants(t, held.Subject); len(gs) != 1 || gs[0] != held {
		t.Errorf("grants %v, want only %v", gs, held)
	}
	if f.events.count("sso.refused") != 1 || f.events.count("sso.mapping.refused") != 1 {
		t.Errorf("events %v", f.events.types())
	}
	// Domain facts only: no wrapped error text naming a store.
	if es := f.events.of("sso.mapping.refused"); len(es) == 1 {
		if d := es[0].Detail; len(d) != 3 || d["reason"] != "conflict" || d["rule"] == "" || d["provider"] == "" {
			t.Errorf("sso.mapping.refused detail = %q", d)
		}
	}
}
