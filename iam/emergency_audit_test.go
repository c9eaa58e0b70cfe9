package iam_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/masking"
	"github.com/civic-platform/security/rbac"
)

// floodCity is dsCity with an emergency role reached only through
// inheritance: flood-lead is not marked Emergency, but inherits flood,
// which is.
func floodCity() rbac.Model {
	m := dsCity()
	m.Roles = append(m.Roles,
		rbac.Role{ID: "flood", Emergency: true, Permissions: []rbac.Permission{"crm.citizen.sin.view", "crm.citizen.read"}},
		rbac.Role{ID: "flood-lead", Inherits: []rbac.RoleID{"case-reader", "flood"}},
		rbac.Role{ID: "flood-command", Composite: true, Inherits: []rbac.RoleID{"flood-lead", "roads-clerk"}},
		rbac.Role{ID: "privacy-officer", Permissions: []rbac.Permission{"crm.citizen.sin.view"}},
	)
	m.Members = append(m.Members, rbac.Membership{Member: "user:una", Group: "unit:eoc"})
	m.Grants = append(m.Grants,
		rbac.Grant{Subject: "user:wes", Role: "privacy-officer", Scope: "ward:7"},
		rbac.Grant{Subject: "user:eoc", Role: "flood-lead", Scope: "ward:7", NotBefore: dsNoon.Add(-time.Hour), NotAfter: dsNoon.Add(time.Hour), Reason: "flood"},
		rbac.Grant{Subject: "unit:eoc", Role: "flood-command", Scope: "org", NotBefore: dsNoon.Add(-time.Hour), NotAfter: dsNoon.Add(time.Hour), Reason: "flood"},
	)
	return m
}

// TestEmergencyDecisionsAreRecordedByEveryEntryPoint checks that an
// allowed decision made possible by a role that only inherits an emergency
// role — granted to the person or to their org unit — emits
// decision.emergency whichever entry point made it, naming the grant.
func TestEmergencyDecisionsAreRecordedByEveryEntryPoint(t *testing.T) {
	t.Parallel()
	type entry func(ctx context.Context, a *iam.Authorizer, sc *iam.Scoper, sub iam.Subject) (bool, error)
	entries := map[string]entry{
		"check": func(ctx context.Context, a *iam.Authorizer, _ *iam.Scoper, sub iam.Subject) (bool, error) {
			d, err := a.Check(ctx, sub, "social.case.read", "ward:7")
			return d.Allowed, err
		},
		"check many": func(ctx context.Context, a *iam.Authorizer, _ *iam.Scoper, sub iam.Subject) (bool, error) {
			ds, err := a.CheckMany(ctx, []iam.Request{{Subject: sub, Permission: "social.case.read", Scope: "ward:7"}})
			return len(ds) == 1 && ds[0].Allowed, err
		},
		"require": func(ctx context.Context, a *iam.Authorizer, _ *iam.Scoper, sub iam.Subject) (bool, error) {
			err := a.Require(ctx, sub, "social.case.read", "ward:7")
			return err == nil, err
		},
		"explain": func(ctx context.Context, a *iam.Authorizer, _ *iam.Scoper, sub iam.Subject) (bool, error) {
			ex, err := a.Explain(ctx, sub, "social.case.read", "ward:7")
			return ex.Allowed, err
		},
		"filter": func(ctx context.Context, a *iam.Authorizer, sc *iam.Scoper, sub iam.Subject) (bool, error) {
			f, err := a.Filter(ctx, sub, "social.case.read", sc)
			return !f.MatchesNone(), err
		},
		"check record": func(ctx context.Context, a *iam.Authorizer, sc *iam.Scoper, sub iam.Subject) (bool, error) {
			d, err := a.CheckRecord(ctx, sub, "social.case.read", sc, abac.Map{"ward": "7"})
			return d.Allowed, err
		},
		"mask": func(ctx context.Context, a *iam.Authorizer, _ *iam.Scoper, sub iam.Subject) (bool, error) {
			sin, err := masking.ParseSIN("046 454 286")
			if err != nil {
				return false, err
			}
			c := Citizen{ID: "c-1", SIN: sin}
			err = defaultMasker(t, a).Mask(ctx, sub, "ward:7", &c)
			return c.SIN.Plain() == "046454286", err
		},
	}
	for _, who := range []struct {
		sub   iam.Subject
		grant string
	}{{"user:eoc", "user:eoc flood-lead@ward:7"}, {"user:una", "unit:eoc flood-command@org"}} {
		for name, call := range entries {
			t.Run(string(who.sub)+"/"+name, func(t *testing.T) {
				t.Parallel()
				rec := &iamtest.Recorder{}
				a, sc := newScoped(t, floodCity(), iam.DataScopes{}, iam.WithAuditSink(rec))
				ctx := context.Background()
				// An ordinary decision records nothing.
				if ok, err := call(ctx, a, sc, "user:wes"); err != nil || !ok {
					t.Fatalf("ordinary: %v, %v", ok, err)
				}
				if evs := eventsOf(rec, iam.EventEmergency); len(evs) != 0 {
					t.Fatalf("ordinary decision recorded as emergency: %+v", evs)
				}
				ok, err := call(ctx, a, sc, who.sub)
				if err != nil || !ok {
					t.Fatalf("under emergency access: %v, %v", ok, err)
				}
				evs := eventsOf(rec, iam.EventEmergency)
				if len(evs) == 0 {
					t.Fatal("no decision.emergency event")
				}
				for _, e := range evs {
					if e.Subject != who.sub || e.ID == "" || e.Revision != a.Revision() || e.Detail["allowed"] != "true" ||
						!strings.Contains(e.Detail["grants"], who.grant) || e.Detail["kind"] == "" {
						t.Errorf("event %+v", e)
					}
				}
			})
		}
	}
}

// TestEmergencyReviewOfAGroupActivation checks the choice for activations
// of a group or org unit: they are allowed, and the review lists every
// member's actions, each with who acted, and nobody else's.
func TestEmergencyReviewOfAGroupActivation(t *testing.T) {
	t.Parallel()
	c := newLCClock(noon)
	m := sodCity()
	m.Members = append(m.Members, rbac.Membership{Member: "user:ivan", Group: "unit:procurement"})
	a, rec := newLifecycle(t, m, c)
	ctx := context.Background()
	act, err := iam.AdminOf(a).ActivateEmergency(ctx, "unit:procurement", "eoc", "dept:fire", 2*time.Hour, "warehouse fire")
	if err != nil {
		t.Fatal(err)
	}
	other, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:eve", "eoc", "org", time.Hour, "flood")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	for _, sub := range []iam.Subject{"user:hank", "user:ivan", "user:eve"} {
		if d, err := a.Check(ctx, sub, "fire.apparatus.dispatch", "dept:fire"); err != nil || !d.Allowed {
			t.Fatalf("%s: %+v, %v", sub, d, err)
		}
		c.Add(time.Minute)
	}
	rv := reports.EmergencyReview(rec.Events(), act)
	if len(rv.Actions) != 2 || rv.Actions[0].Subject != "user:hank" || rv.Actions[1].Subject != "user:ivan" {
		t.Fatalf("group review actions = %+v", rv.Actions)
	}
	if rv := reports.EmergencyReview(rec.Events(), other); len(rv.Actions) != 1 || rv.Actions[0].Subject != "user:eve" {
		t.Fatalf("user review actions = %+v", rv.Actions)
	}
}

// TestActivateEmergencyCap checks that activations cannot extend one
// person's emergency access past the cap, through their own grants or
// their units', and that a new activation after the access ended works.
func TestActivateEmergencyCap(t *testing.T) {
	t.Parallel()
	c := newLCClock(noon)
	a, rec := newLifecycle(t, sodCity(), c)
	ctx := context.Background()
	if _, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:hank", "eoc", "org", 20*time.Hour, "flood"); err != nil {
		t.Fatal(err)
	}
	c.Add(10 * time.Hour)
	for _, x := range []struct {
		sub   iam.Subject
		scope iam.Scope
	}{{"user:hank", "dept:fire"}, {"unit:procurement", "org"}} {
		before := len(rec.Events())
		_, err := iam.AdminOf(a).ActivateEmergency(ctx, x.sub, "eoc", x.scope, 12*time.Hour, "still flooding")
		var ee *rbac.EmergencyError
		if !errors.Is(err, rbac.ErrEmergency) || !errors.Is(err, iam.ErrInvalidInput) || !errors.As(err, &ee) || ee.Subject != "user:hank" {
			t.Errorf("activation extending access in force via %s: %v", x.sub, err)
		}
		if len(rec.Events()) != before {
			t.Errorf("refused activation emitted events")
		}
	}
	c.Add(10 * time.Hour) // the first activation has ended
	act, err := iam.AdminOf(a).ActivateEmergency(ctx, "unit:procurement", "eoc", "org", 24*time.Hour, "second incident")
	if err != nil {
		t.Fatalf("new activation after the access ended: %v", err)
	}
	if evs := eventsOf(rec, iam.EventEmergencyActivated); len(evs) != 2 || evs[1].ID != act.ID || evs[1].Detail["reason"] != "second incident" {
		t.Errorf("emergency.activated = %+v", evs)
	}
}

// extendingStore extends a grant between the reaper's read and its write,
// standing in for another process.
type extendingStore struct {
	*iamtest.Store
	once    sync.Once
	extend  rbac.Change
	trigger func(rbac.Change) bool // which change to get ahead of; nil: a revocation
	err     error
}

func (s *extendingStore) Apply(ctx context.Context, c rbac.Change) (int64, error) {
	if s.trigger == nil && len(c.Revoke) > 0 || s.trigger != nil && s.trigger(c) {
		s.once.Do(func() { _, s.err = s.Store.Apply(ctx, s.extend) })
	}
	return s.Store.Apply(ctx, c)
}

func TestReaperSparesAGrantExtendedAfterItRead(t *testing.T) {
	t.Parallel()
	m := sodCity()
	acting := rbac.Grant{Subject: "user:ivy", Role: "auditor", Scope: "dept:finance", NotBefore: noon.Add(-48 * time.Hour), NotAfter: noon.Add(-time.Hour)}
	done := rbac.Grant{Subject: "user:jo", Role: "auditor", Scope: "dept:finance", NotBefore: noon.Add(-48 * time.Hour), NotAfter: noon.Add(-time.Hour)}
	m.Grants = append(m.Grants, acting, done)
	extended := acting
	extended.NotAfter = noon.Add(72 * time.Hour)
	src := &extendingStore{Store: iamtest.NewStore(m), extend: rbac.Change{At: noon, Revoke: []rbac.GrantKey{acting.Key()}, Grant: []rbac.Grant{extended}}}
	rec := &iamtest.Recorder{}
	a, err := iam.New(context.Background(), src, iam.WithClock(iamtest.Clock(noon)), iam.WithAuditSink(rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	rep, err := iam.NewReaper(iam.AdminOf(a), time.Hour).Reap(context.Background())
	if err != nil || src.err != nil {
		t.Fatalf("Reap: %v (extension: %v)", err, src.err)
	}
	if len(rep.Expired) != 1 || rep.Expired[0].Key() != done.Key() {
		t.Errorf("expired = %+v, want only %s", rep.Expired, done.Key())
	}
	got, _, err := src.LoadPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var kept bool
	for _, g := range got.Grants {
		if g.Key() == acting.Key() {
			kept = g.NotAfter.Equal(extended.NotAfter)
		}
		if g.Key() == done.Key() {
			t.Errorf("the ended grant survived")
		}
	}
	if !kept {
		t.Errorf("the extended grant was reaped: %+v", got.Grants)
	}
	for _, e := range eventsOf(rec, iam.EventRoleExpired) {
		if e.Subject == "user:ivy" {
			t.Errorf("role.expired for the extended grant: %+v", e)
		}
	}
	if d, _ := a.Check(context.Background(), "user:ivy", "finance.report.read", "dept:finance"); !d.Allowed {
		t.Error("the extended grant no longer allows")
	}
}

func TestReaperSparesWaiversRenewedOrNotBegun(t *testing.T) {
	t.Parallel()
	m := sodCity()
	waiver := func(sub iam.Subject, from, until time.Duration) rbac.Waiver {
		w := rbac.Waiver{Rule: "po-create-approve", Subject: sub, ApprovedBy: "user:cfo", Reason: "small office", NotAfter: noon.Add(until)}
		if from != 0 {
			w.NotBefore = noon.Add(from)
		}
		return w
	}
	lapsed, future, renewed := waiver("user:kim", 0, -time.Hour), waiver("user:lou", time.Hour, 48*time.Hour), waiver("user:max", 0, -time.Hour)
	m.Waivers = []rbac.Waiver{lapsed, future, renewed}
	longer := renewed
	longer.NotAfter = noon.Add(72 * time.Hour)
	src := &extendingStore{Store: iamtest.NewStore(m), extend: rbac.Change{At: noon, PutWaivers: []rbac.Waiver{longer}}}
	a, err := iam.New(context.Background(), src, iam.WithClock(iamtest.Clock(noon)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	src.trigger = func(c rbac.Change) bool { return len(c.DeleteWaivers) > 0 }
	rep, err := iam.NewReaper(iam.AdminOf(a), time.Hour).Reap(context.Background())
	if err != nil || src.err != nil {
		t.Fatalf("Reap: %v (renewal: %v)", err, src.err)
	}
	if len(rep.ExpiredWaivers) != 1 || rep.ExpiredWaivers[0].Key() != lapsed.Key() {
		t.Errorf("expired waivers = %+v, want only %v", rep.ExpiredWaivers, lapsed.Key())
	}
	got, _, err := src.LoadPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[rbac.WaiverKey]time.Time{future.Key(): future.NotAfter, longer.Key(): longer.NotAfter}
	if len(got.Waivers) != len(want) {
		t.Fatalf("waivers left = %+v", got.Waivers)
	}
	for _, w := range got.Waivers {
		if until, ok := want[w.Key()]; !ok || !w.NotAfter.Equal(until) {
			t.Errorf("waiver left %+v", w)
		}
	}
}
