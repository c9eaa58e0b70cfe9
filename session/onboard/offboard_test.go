package onboard_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/onboard"
	"github.com/civic-platform/security/session/signin"
)

func TestOffboard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := cityModel()
	set := mustTemplates(t)
	eoc, err := set.Instantiate("emergency-operations", "emergency-operations")
	if err != nil {
		t.Fatal(err)
	}
	planner, err := set.Instantiate("planner", "planner")
	if err != nil {
		t.Fatal(err)
	}
	m.Roles = append(m.Roles, eoc, planner)
	m.Grants = append(m.Grants, rbac.Grant{Subject: "group:inspectors", Role: "purchasing-agent", Scope: "dept:parks"})
	h := newHarness(t, m)
	keys, err := apikey.New(apikey.NewMemoryStore(), h.authz, make([]byte, 32), apikey.WithClock(h.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	svc, err := onboard.New(h.users, h.store, h.admin, onboard.WithSessions(h.sessions), onboard.WithKeys(keys),
		onboard.WithEvents(h.events), onboard.WithClock(h.now), onboard.WithLocation(time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	rec := bylawOfficer()
	rec.StartDate = time.Time{}
	if _, err := svc.Onboard(ctx, rec); err != nil {
		t.Fatal(err)
	}
	sub := rbac.Subject("user:e1042")
	// Everything a person collects: a temporary grant, an emergency
	// activation, a group membership.
	if _, err := h.admin.Apply(ctx, rbac.Change{
		Grant: []rbac.Grant{{Subject: sub, Role: "planner", Scope: "dept:parks", NotAfter: noon.Add(30 * 24 * time.Hour), Reason: "acting"}},
		Join:  []rbac.Membership{{Member: sub, Group: "group:inspectors"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.admin.ActivateEmergency(ctx, sub, "emergency-operations", "org", 4*time.Hour, "flood"); err != nil {
		t.Fatal(err)
	}
	// Two sessions, a personal key and a department integration.
	_, tok1, err := h.sessions.Create(ctx, session.Start{Subject: string(sub), Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	_, tok2, err := h.sessions.Create(ctx, session.Start{Subject: string(sub), Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []apikey.Account{
		{ID: onboard.PersonalAccountID("e1042"), Owner: sub, Department: "bylaw", Description: "Julie's scripts"},
		{ID: "bylaw-tickets-sync", Owner: sub, Department: "bylaw", Description: "ticket export"},
		{ID: "someone-elses", Owner: "user:e0007", Department: "bylaw"},
	} {
		if _, err := keys.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	personal, err := keys.CreateKey(ctx, onboard.PersonalAccountID("e1042"), apikey.KeySpec{Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	shared, err := keys.CreateKey(ctx, "bylaw-tickets-sync", apikey.KeySpec{Name: "nightly"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Verify(ctx, personal.Secret); err != nil {
		t.Fatal(err)
	}

	rep, err := svc.Offboard(ctx, "E1042", "resigned")
	if err != nil {
		t.Fatalf("Offboard: %v", err)
	}
	var roles []string
	for _, g := range rep.Grants {
		roles = append(roles, string(g.Role))
	}
	slices.Sort(roles)
	if want := []string{"bylaw-officer", "emergency-operations", "planner"}; !slices.Equal(roles, want) {
		t.Errorf("grants removed = %v, want %v", roles, want)
	}
	if len(rep.Memberships) != 1 || rep.Memberships[0].Group != "group:inspectors" {
		t.Errorf("memberships = %v", rep.Memberships)
	}
	if rep.Sessions != 2 || len(rep.RevokedKeys) != 1 || rep.RevokedKeys[0] != personal.Key.ID ||
		!slices.Equal(rep.DisabledAccounts, []string{"personal-e1042"}) || !slices.Equal(rep.FlaggedAccounts, []string{"bylaw-tickets-sync"}) {
		t.Errorf("report = %+v", rep)
	}
	if rep.User.Status != signin.StatusOffboarded {
		t.Errorf("user status = %s", rep.User.Status)
	}
	// Nothing is left.
	if gs := h.grantsOf(t, sub); len(gs) != 0 {
		t.Errorf("grants left: %v", gs)
	}
	for _, q := range []struct {
		perm  rbac.Permission
		scope rbac.Scope
	}{{"bylaw.case.read", "dept:bylaw"}, {"finance.po.create", "dept:parks"}, {"planning.application.read", "dept:parks"}, {"publicworks.road.close", "org"}} {
		if d, err := h.authz.Check(ctx, sub, q.perm, q.scope); err != nil || d.Allowed {
			t.Errorf("after offboarding %s at %s: %+v %v", q.perm, q.scope, d, err)
		}
	}
	for _, tok := range []string{tok1, tok2} {
		if _, err := h.sessions.Verify(ctx, tok); err == nil {
			t.Error("a session survived offboarding")
		}
	}
	if _, err := keys.Verify(ctx, personal.Secret); err == nil {
		t.Error("the personal key survived offboarding")
	}
	if _, err := keys.Verify(ctx, shared.Secret); err != nil {
		t.Errorf("the department integration stopped: %v", err)
	}
	off := h.events.of(onboard.EventUserOffboarded)
	if len(off) != 1 || off[0].Detail["grants"] != "3" || off[0].Detail["complete"] != "true" || off[0].Revision != rep.Revision {
		t.Errorf("offboarded events = %+v", off)
	}
	if len(h.events.of(onboard.EventAccountOwnerLeft)) != 1 {
		t.Errorf("events = %v", h.events.types())
	}
	// Again: nothing left to remove, no error.
	again, err := svc.Offboard(ctx, "E1042", "resigned")
	if err != nil || len(again.Grants)+len(again.RevokedKeys)+len(again.DisabledAccounts) != 0 {
		t.Errorf("second Offboard = %+v, %v", again, err)
	}
}

func TestOffboardBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	for _, id := range []string{"", "E1\r\n", "1' OR 1=1", "E9999"} {
		_, err := h.svc.Offboard(ctx, id, "x")
		if !errors.Is(err, onboard.ErrInvalidInput) && !errors.Is(err, onboard.ErrNotFound) {
			t.Errorf("Offboard(%q) = %v", id, err)
		}
	}
	// A user who is not the employee (no employee id) is not found by it.
	if err := h.users.CreateUser(ctx, signin.User{ID: "e42", Email: "x@lakeview.ca", Language: "en", Status: signin.StatusActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Offboard(ctx, "E42", "x"); !errors.Is(err, onboard.ErrNotFound) {
		t.Errorf("Offboard of a user with another employee id = %v", err)
	}
}
