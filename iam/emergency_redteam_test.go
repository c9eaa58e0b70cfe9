package iam_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/rbac"
)

// erNoon is the instant the emergency write-rule tests start at.
var erNoon = time.Date(2026, 2, 3, 12, 0, 0, 0, time.UTC)

// erCity has an emergency role reached in every way a role can reach
// one: marked (base), inherited through one, two and three levels (mid,
// top, deep), and composed by a composite of composites (comp2 over comp1
// over top). plain and clerk are ordinary roles; chain inherits plain.
func erCity() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:health"}, {Scope: "facility:clinic", Parent: "dept:health"}, {Scope: "ward:7"}, {Scope: "dept:fire"}},
		Roles: []rbac.Role{
			{ID: "base", Emergency: true, Permissions: []rbac.Permission{"health.record.read", "health.record.write"}},
			{ID: "mid", Inherits: []rbac.RoleID{"base"}},
			{ID: "top", Inherits: []rbac.RoleID{"mid"}},
			{ID: "deep", Inherits: []rbac.RoleID{"top"}},
			{ID: "reader", Permissions: []rbac.Permission{"health.record.read"}},
			{ID: "comp1", Composite: true, Inherits: []rbac.RoleID{"reader", "top"}},
			{ID: "comp2", Composite: true, Inherits: []rbac.RoleID{"reader", "comp1"}},
			{ID: "plain", Permissions: []rbac.Permission{"health.appt.read"}},
			{ID: "chain", Inherits: []rbac.RoleID{"plain"}},
			{ID: "clerk", Permissions: []rbac.Permission{"health.appt.read"}},
		},
		Members: []rbac.Membership{
			{Member: "user:ann", Group: "group:icu"}, {Member: "user:ann", Group: "unit:er"},
			{Member: "user:cy", Group: "group:icu"}, {Member: "user:dee", Group: "unit:er"},
		},
		Grants: []rbac.Grant{{Subject: "user:bob", Role: "reader", Scope: "org"}},
	}
}

var erEmergencyRoles = []iam.RoleID{"base", "mid", "top", "deep", "comp1", "comp2"}

func wantEmergencyErr(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, rbac.ErrEmergency) || !errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("%s: %v, want ErrEmergency and ErrInvalidInput", what, err)
	}
}

// TestEmergencyGrantWindowsOfEveryEmergencyRole grants every kind of
// emergency role (marked, inherited 1-3 levels, composite of composites)
// with every bad window shape, through Assign and Apply, and checks the
// refusal is typed and writes nothing; the good shapes are accepted.
func TestEmergencyGrantWindowsOfEveryEmergencyRole(t *testing.T) {
	t.Parallel()
	windows := []struct {
		name     string
		from, to time.Time
		ok       bool
	}{
		{"no window", time.Time{}, time.Time{}, false},
		{"no start", time.Time{}, erNoon.Add(time.Hour), false},
		{"no end", erNoon, time.Time{}, false},
		{"end before start", erNoon.Add(time.Hour), erNoon, false},
		{"24h+1ns", erNoon, erNoon.Add(24*time.Hour + time.Nanosecond), false},
		{"48h", erNoon, erNoon.Add(48 * time.Hour), false},
		{"24h in the future", erNoon.Add(time.Hour), erNoon.Add(25*time.Hour + time.Nanosecond), false},
		{"exactly 24h", erNoon, erNoon.Add(24 * time.Hour), true},
		{"1ns", erNoon, erNoon.Add(time.Nanosecond), true},
		{"started an hour ago", erNoon.Add(-time.Hour), erNoon.Add(time.Hour), true},
	}
	for _, role := range erEmergencyRoles {
		for _, w := range windows {
			for _, via := range []string{"assign", "apply"} {
				t.Run(fmt.Sprintf("%s/%s/%s", role, w.name, via), func(t *testing.T) {
					t.Parallel()
					a, _ := newLifecycle(t, erCity(), newLCClock(erNoon))
					g := iam.Grant{Subject: "user:ann", Role: role, Scope: "dept:health", NotBefore: w.from, NotAfter: w.to, Reason: "mass casualty"}
					var err error
					if via == "assign" {
						_, err = iam.AdminOf(a).Assign(context.Background(), g)
					} else {
						_, err = iam.AdminOf(a).Apply(context.Background(), iam.Change{Grant: []iam.Grant{g}})
					}
					if w.ok {
						if err != nil {
							t.Fatalf("refused a valid window: %v", err)
						}
						return
					}
					if !errors.Is(err, iam.ErrInvalidInput) {
						t.Fatalf("accepted or untyped: %v", err)
					}
					as, _ := reports.Assignments(a.View(), "user:ann")
					if len(as.Grants) != 0 {
						t.Errorf("refused change left grants: %+v", as.Grants)
					}
				})
			}
		}
	}
}

// TestEmergencyRoleFlagCannotMoveWhileGranted covers every way a change
// can turn a granted role into an emergency role, or one out of it.
func TestEmergencyRoleFlagCannotMoveWhileGranted(t *testing.T) {
	t.Parallel()
	win := func(sub iam.Subject, role iam.RoleID) iam.Grant {
		return iam.Grant{Subject: sub, Role: role, Scope: "dept:health", NotBefore: erNoon, NotAfter: erNoon.Add(2 * time.Hour), Reason: "incident"}
	}
	open := func(sub iam.Subject, role iam.RoleID) iam.Grant {
		return iam.Grant{Subject: sub, Role: role, Scope: "dept:health"}
	}
	tests := []struct {
		name   string
		before []iam.Grant
		change iam.Change
	}{
		{"unflag the marked role granted 3 levels down", []iam.Grant{win("user:ann", "deep")},
			iam.Change{PutRoles: []iam.Role{{ID: "base", Permissions: []rbac.Permission{"health.record.read"}}}}},
		{"cut the chain in the middle", []iam.Grant{win("user:ann", "deep")},
			iam.Change{PutRoles: []iam.Role{{ID: "mid"}}}},
		{"cut the composite of composites", []iam.Grant{win("group:icu", "comp2")},
			iam.Change{PutRoles: []iam.Role{{ID: "comp1", Composite: true, Inherits: []rbac.RoleID{"reader"}}}}},
		{"unflag the marked role granted directly", []iam.Grant{win("unit:er", "base")},
			iam.Change{PutRoles: []iam.Role{{ID: "base", Permissions: []rbac.Permission{"health.record.read"}}}}},
		{"delete the marked role and unhook its heir", []iam.Grant{win("user:ann", "mid")},
			iam.Change{DeleteRoles: []iam.RoleID{"base"}, PutRoles: []iam.Role{{ID: "mid", Permissions: []rbac.Permission{"health.record.read"}}}}},
		{"delete the granted emergency role", []iam.Grant{win("user:ann", "base")},
			iam.Change{DeleteRoles: []iam.RoleID{"base"}}},
		{"an open grant inherits an emergency role", []iam.Grant{open("user:ann", "clerk")},
			iam.Change{PutRoles: []iam.Role{{ID: "clerk", Inherits: []rbac.RoleID{"base"}}}}},
		{"a windowed grant inherits an emergency role", []iam.Grant{win("user:ann", "clerk")},
			iam.Change{PutRoles: []iam.Role{{ID: "clerk", Inherits: []rbac.RoleID{"base"}}}}},
		{"a role two levels above a grant becomes emergency", []iam.Grant{win("group:icu", "chain")},
			iam.Change{PutRoles: []iam.Role{{ID: "plain", Emergency: true}}}},
		{"a new intermediate role brings emergency in", []iam.Grant{win("user:ann", "chain")},
			iam.Change{PutRoles: []iam.Role{{ID: "bridge", Inherits: []rbac.RoleID{"top"}}, {ID: "plain", Inherits: []rbac.RoleID{"bridge"}}}}},
		{"the same change makes the role emergency and grants it openly", nil,
			iam.Change{PutRoles: []iam.Role{{ID: "clerk", Inherits: []rbac.RoleID{"mid"}}}, Grant: []iam.Grant{open("user:ann", "clerk")}}},
		{"the same change makes the role emergency and grants it for 25h", nil,
			iam.Change{PutRoles: []iam.Role{{ID: "clerk", Inherits: []rbac.RoleID{"mid"}}},
				Grant: []iam.Grant{{Subject: "user:ann", Role: "clerk", Scope: "org", NotBefore: erNoon, NotAfter: erNoon.Add(25 * time.Hour), Reason: "x"}}}},
		{"the same change makes a granted role emergency and grants it again elsewhere", []iam.Grant{open("user:ann", "clerk")},
			iam.Change{PutRoles: []iam.Role{{ID: "clerk", Inherits: []rbac.RoleID{"mid"}}},
				Grant: []iam.Grant{{Subject: "user:ann", Role: "clerk", Scope: "ward:7", NotBefore: erNoon, NotAfter: erNoon.Add(time.Hour), Reason: "x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := erCity()
			m.Grants = append(m.Grants, tt.before...)
			a, _ := newLifecycle(t, m, newLCClock(erNoon.Add(time.Minute)))
			rev := a.Revision()
			_, err := iam.AdminOf(a).Apply(context.Background(), tt.change)
			if !errors.Is(err, iam.ErrInvalidInput) {
				t.Fatalf("accepted: %v", err)
			}
			if a.Revision() != rev {
				t.Errorf("refused change moved the revision %d -> %d", rev, a.Revision())
			}
		})
	}

	// Once the grant has ended (the reaper has not run), the role may change.
	m := erCity()
	m.Grants = append(m.Grants, win("user:ann", "deep"))
	c := newLCClock(erNoon.Add(time.Minute))
	a, _ := newLifecycle(t, m, c)
	c.Set(erNoon.Add(2 * time.Hour))
	if _, err := iam.AdminOf(a).Apply(context.Background(), iam.Change{PutRoles: []iam.Role{{ID: "mid"}}}); err != nil {
		t.Errorf("changing a role whose grants have ended: %v", err)
	}
	// A fresh windowed grant in the same change that makes the role
	// emergency is an activation like any other.
	a2, _ := newLifecycle(t, erCity(), newLCClock(erNoon))
	if _, err := iam.AdminOf(a2).Apply(context.Background(), iam.Change{PutRoles: []iam.Role{{ID: "clerk", Inherits: []rbac.RoleID{"base"}}},
		Grant: []iam.Grant{{Subject: "user:ann", Role: "clerk", Scope: "org", NotBefore: erNoon, NotAfter: erNoon.Add(24 * time.Hour), Reason: "x"}}}); err != nil {
		t.Errorf("new emergency role granted for 24h in one change: %v", err)
	}
}

// TestEmergencyCapAcrossSubjectsScopesAndChanges assembles one person's
// emergency access from their own grant, a group's and an org unit's, at
// nested scopes, in one change and over several with the clock moving.
func TestEmergencyCapAcrossSubjectsScopesAndChanges(t *testing.T) {
	t.Parallel()
	g := func(sub iam.Subject, role iam.RoleID, scope iam.Scope, from, to time.Duration) iam.Grant {
		return iam.Grant{Subject: sub, Role: role, Scope: scope, NotBefore: erNoon.Add(from), NotAfter: erNoon.Add(to), Reason: "incident"}
	}
	type step struct {
		at     time.Duration // clock, from erNoon
		change iam.Change
		ok     bool
	}
	h := time.Hour
	tests := []struct {
		name  string
		steps []step
	}{
		{"user+group+unit at org/dept/facility in one change, 25h", []step{{0, iam.Change{Grant: []iam.Grant{
			g("user:ann", "base", "org", 0, 12*h), g("group:icu", "mid", "dept:health", 6*h, 18*h), g("unit:er", "comp2", "facility:clinic", 12*h, 25*h)}}, false}}},
		{"user+group+unit in one change, exactly 24h", []step{{0, iam.Change{Grant: []iam.Grant{
			g("user:ann", "base", "org", 0, 12*h), g("group:icu", "mid", "dept:health", 6*h, 18*h), g("unit:er", "comp2", "facility:clinic", 12*h, 24*h)}}, true}}},
		{"back to back in one change", []step{{0, iam.Change{Grant: []iam.Grant{
			g("user:ann", "base", "org", 0, 24*h), g("user:ann", "top", "ward:7", 24*h, 48*h)}}, false}}},
		{"with a gap in one change", []step{{0, iam.Change{Grant: []iam.Grant{
			g("user:ann", "base", "org", 0, 12*h), g("user:ann", "top", "ward:7", 13*h, 25*h)}}, false}}},
		{"unit extends own access later", []step{
			{0, iam.Change{Grant: []iam.Grant{g("user:ann", "base", "org", 0, 20*h)}}, true},
			{5 * h, iam.Change{Grant: []iam.Grant{g("unit:er", "top", "facility:clinic", 5*h, 21*h)}}, false},
		}},
		{"group books the next window while own is in force", []step{
			{0, iam.Change{Grant: []iam.Grant{g("user:ann", "base", "org", 0, 10*h)}}, true},
			{9 * h, iam.Change{Grant: []iam.Grant{g("group:icu", "deep", "dept:health", 10*h, 20*h)}}, false},
		}},
		{"revoke and regrant in one change extends", []step{
			{0, iam.Change{Grant: []iam.Grant{g("user:ann", "base", "org", 0, 10*h)}}, true},
			{5 * h, iam.Change{Revoke: []iam.GrantKey{{Subject: "user:ann", Role: "base", Scope: "org"}},
				Grant: []iam.Grant{g("user:ann", "base", "org", 5*h, 15*h)}}, false},
		}},
		{"revoke and regrant under another role and scope", []step{
			{0, iam.Change{Grant: []iam.Grant{g("user:ann", "base", "org", 0, 10*h)}}, true},
			{5 * h, iam.Change{Revoke: []iam.GrantKey{{Subject: "user:ann", Role: "base", Scope: "org"}},
				Grant: []iam.Grant{g("unit:er", "comp1", "ward:7", 5*h, 11*h)}}, false},
		}},
		{"a join brings group access on top of own", []step{
			{0, iam.Change{Grant: []iam.Grant{g("user:eve", "base", "org", 0, 10*h), g("group:icu", "mid", "ward:7", 0, 20*h)}}, true},
			{h, iam.Change{Join: []rbac.Membership{{Member: "user:eve", Group: "group:icu"}}}, false},
		}},
		{"a join into an earlier group window makes the span too long", []step{
			{0, iam.Change{Grant: []iam.Grant{g("group:icu", "mid", "ward:7", 0, 20*h)}}, true},
			{10 * h, iam.Change{Grant: []iam.Grant{g("user:eve", "base", "org", 10*h, 30*h)}, Join: []rbac.Membership{{Member: "user:eve", Group: "group:icu"}}}, false},
		}},
		{"a shorter window within the one in force is fine", []step{
			{0, iam.Change{Grant: []iam.Grant{g("user:ann", "base", "org", 0, 10*h)}}, true},
			{5 * h, iam.Change{Grant: []iam.Grant{g("group:icu", "mid", "facility:clinic", 5*h, 9*h)}}, true},
		}},
		{"a new activation once access has ended", []step{
			{0, iam.Change{Grant: []iam.Grant{g("user:ann", "base", "org", 0, 24*h)}}, true},
			{24 * h, iam.Change{Grant: []iam.Grant{g("unit:er", "top", "org", 24*h, 48*h)}}, true},
		}},
		{"a window booked for after the one in force", []step{
			{0, iam.Change{Grant: []iam.Grant{g("user:ann", "base", "org", 0, 24*h)}}, true},
			{23 * h, iam.Change{Grant: []iam.Grant{g("user:ann", "top", "org", 30*h, 40*h)}}, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newLCClock(erNoon)
			a, _ := newLifecycle(t, erCity(), c)
			for i, s := range tt.steps {
				c.Set(erNoon.Add(s.at))
				_, err := iam.AdminOf(a).Apply(context.Background(), s.change)
				if s.ok && err != nil {
					t.Fatalf("step %d refused: %v", i, err)
				}
				if !s.ok {
					wantEmergencyErr(t, fmt.Sprintf("step %d", i), err)
				}
			}
		})
	}
}

// TestActivateEmergencyAgainAfterEnd: ending access early and activating
// again is a new activation with its own reason and event.
func TestActivateEmergencyAgainAfterEnd(t *testing.T) {
	t.Parallel()
	c := newLCClock(erNoon)
	a, rec := newLifecycle(t, erCity(), c)
	ctx := context.Background()
	first, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:ann", "deep", "dept:health", 24*time.Hour, "first incident")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(23 * time.Hour)
	if _, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:ann", "comp2", "facility:clinic", time.Hour+time.Minute, "extend it"); !errors.Is(err, rbac.ErrEmergency) {
		t.Errorf("second activation extending the first: %v", err)
	}
	if _, err := iam.AdminOf(a).EndEmergency(ctx, "user:ann", "deep", "dept:health", "handed over"); err != nil {
		t.Fatal(err)
	}
	second, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:ann", "deep", "dept:health", 24*time.Hour, "second incident")
	if err != nil {
		t.Fatalf("new activation after the end: %v", err)
	}
	acts := eventsOf(rec, iam.EventEmergencyActivated)
	if len(acts) != 2 || acts[0].ID != first.ID || acts[1].ID != second.ID || first.ID == second.ID ||
		acts[1].Detail["reason"] != "second incident" {
		t.Errorf("activations = %+v", acts)
	}
}

// TestActivateEmergencyRefusalsAreTyped tries the refusals of
// ActivateEmergency in every shape; none writes anything.
func TestActivateEmergencyRefusalsAreTyped(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		sub    iam.Subject
		role   iam.RoleID
		scope  iam.Scope
		window time.Duration
		reason string
	}{
		{"empty reason", "user:ann", "base", "org", time.Hour, ""},
		{"whitespace reason", "user:ann", "base", "org", time.Hour, " \t\n"},
		{"zero window", "user:ann", "base", "org", 0, "x"},
		{"negative window", "user:ann", "base", "org", -time.Nanosecond, "x"},
		{"over 24h", "user:ann", "base", "org", 24*time.Hour + time.Nanosecond, "x"},
		{"not an emergency role", "user:ann", "reader", "org", time.Hour, "x"},
		{"undeclared scope", "user:ann", "base", "dept:buildng", time.Hour, "x"},
		{"group member over the cap", "group:icu", "base", "org", 10 * time.Hour, "x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := erCity()
			// user:cy (in group:icu) already has access in force until 13:00.
			m.Grants = append(m.Grants, iam.Grant{Subject: "user:cy", Role: "base", Scope: "org", NotBefore: erNoon.Add(-20 * time.Hour), NotAfter: erNoon.Add(time.Hour), Reason: "y"})
			a, rec := newLifecycle(t, m, newLCClock(erNoon))
			rev := a.Revision()
			if _, err := iam.AdminOf(a).ActivateEmergency(context.Background(), tt.sub, tt.role, tt.scope, tt.window, tt.reason); !errors.Is(err, iam.ErrInvalidInput) {
				t.Errorf("accepted or untyped: %v", err)
			}
			if a.Revision() != rev || len(eventsOf(rec, iam.EventEmergencyActivated)) != 0 {
				t.Error("a refused activation wrote or announced something")
			}
		})
	}
}

// TestGrantWritesRefuseEndedWindowsAndUndeclaredScopes: a grant whose
// window has already ended, or at a scope the tree does not declare, is
// refused through every write path, and the error names the scope.
func TestGrantWritesRefuseEndedWindowsAndUndeclaredScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	write := map[string]func(a *iam.Authorizer, g iam.Grant) error{
		"assign": func(a *iam.Authorizer, g iam.Grant) error { _, err := iam.AdminOf(a).Assign(ctx, g); return err },
		"apply": func(a *iam.Authorizer, g iam.Grant) error {
			_, err := iam.AdminOf(a).Apply(ctx, iam.Change{Grant: []iam.Grant{g}})
			return err
		},
		"apply with other work": func(a *iam.Authorizer, g iam.Grant) error {
			_, err := iam.AdminOf(a).Apply(ctx, iam.Change{Grant: []iam.Grant{g, {Subject: "user:zed", Role: "reader", Scope: "org"}},
				Join: []rbac.Membership{{Member: "user:zed", Group: "group:icu"}}})
			return err
		},
	}
	for name, w := range write {
		for _, end := range []time.Duration{-time.Hour, -time.Nanosecond, 0} {
			t.Run(fmt.Sprintf("%s/ended %v", name, end), func(t *testing.T) {
				t.Parallel()
				a, _ := newLifecycle(t, erCity(), newLCClock(erNoon))
				err := w(a, iam.Grant{Subject: "user:ann", Role: "reader", Scope: "org", NotBefore: erNoon.Add(-2 * time.Hour), NotAfter: erNoon.Add(end)})
				if !errors.Is(err, iam.ErrInvalidInput) {
					t.Errorf("ended window accepted: %v", err)
				}
				if err := w(a, iam.Grant{Subject: "user:ann", Role: "reader", Scope: "org", NotAfter: erNoon.Add(time.Nanosecond)}); err != nil {
					t.Errorf("window ending 1ns from now refused: %v", err)
				}
			})
		}
		for _, scope := range []iam.Scope{"dept:buildng", "ward:07", "dept:Health", "facility:clinic2", "ward:70"} {
			t.Run(fmt.Sprintf("%s/%s", name, scope), func(t *testing.T) {
				t.Parallel()
				a, _ := newLifecycle(t, erCity(), newLCClock(erNoon))
				err := w(a, iam.Grant{Subject: "user:ann", Role: "reader", Scope: scope})
				if !errors.Is(err, iam.ErrInvalidInput) {
					t.Fatalf("undeclared scope accepted: %v", err)
				}
				if !strings.Contains(err.Error(), string(scope)) {
					t.Errorf("error does not name %q: %v", scope, err)
				}
				if as, _ := reports.Assignments(a.View(), "user:ann"); len(as.Grants) != 0 {
					t.Errorf("refused change wrote %+v", as.Grants)
				}
			})
		}
	}
	// Malformed scopes (trailing space, upper-case kind) are refused too.
	for _, scope := range []iam.Scope{"dept:health ", "DEPT:health", " ward:7"} {
		a, _ := newLifecycle(t, erCity(), newLCClock(erNoon))
		if _, err := iam.AdminOf(a).Assign(ctx, iam.Grant{Subject: "user:ann", Role: "reader", Scope: scope}); !errors.Is(err, iam.ErrInvalidInput) {
			t.Errorf("scope %q accepted: %v", scope, err)
		}
	}
	// Declared in the same change, or with implicit scopes, it is accepted.
	a, _ := newLifecycle(t, erCity(), newLCClock(erNoon))
	if _, err := iam.AdminOf(a).Apply(ctx, iam.Change{PutScopes: []rbac.ScopeNode{{Scope: "dept:building"}},
		Grant: []iam.Grant{{Subject: "user:ann", Role: "reader", Scope: "dept:building"}}}); err != nil {
		t.Errorf("grant at a scope declared in the same change: %v", err)
	}
	on := true
	if _, err := iam.AdminOf(a).Apply(ctx, iam.Change{ImplicitScopes: &on}); err != nil {
		t.Fatal(err)
	}
	if _, err := iam.AdminOf(a).Assign(ctx, iam.Grant{Subject: "user:ann", Role: "reader", Scope: "ward:07"}); err != nil {
		t.Errorf("implicit scopes on: %v", err)
	}
	if _, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:ann", "base", "ward:99", time.Hour, "x"); err != nil {
		t.Errorf("implicit scopes on, activation: %v", err)
	}
}

// TestEveryEmergencyGrantIsAnActivation: a grant of an emergency role made
// through Assign or Apply, not only ActivateEmergency, is an activation:
// it emits emergency.activated (with the grant's reason, which may be
// empty), so that going past the cap by a second grant once the first has
// ended always leaves an event.
func TestEveryEmergencyGrantIsAnActivation(t *testing.T) {
	t.Parallel()
	ctx := iam.ContextWithActor(context.Background(), "user:cmo")
	for _, role := range erEmergencyRoles {
		for _, sub := range []iam.Subject{"user:ann", "group:icu", "unit:er"} {
			t.Run(string(role)+"/"+string(sub), func(t *testing.T) {
				t.Parallel()
				c := newLCClock(erNoon)
				a, rec := newLifecycle(t, erCity(), c)
				g := iam.Grant{Subject: sub, Role: role, Scope: "dept:health", NotBefore: erNoon, NotAfter: erNoon.Add(24 * time.Hour)}
				if _, err := iam.AdminOf(a).Assign(ctx, g); err != nil {
					t.Fatal(err)
				}
				// The next one, once the first has ended, is a new
				// activation with its own reason and event.
				c.Set(erNoon.Add(24 * time.Hour))
				next := iam.Grant{Subject: sub, Role: role, Scope: "facility:clinic", NotBefore: c.Now(), NotAfter: c.Now().Add(24 * time.Hour), Reason: "second wave"}
				if _, err := iam.AdminOf(a).Apply(ctx, iam.Change{Grant: []iam.Grant{next}}); err != nil {
					t.Fatal(err)
				}
				evs := eventsOf(rec, iam.EventEmergencyActivated)
				if len(evs) != 2 {
					t.Fatalf("emergency.activated = %+v, want 2", evs)
				}
				for i, want := range []iam.Grant{g, next} { // g gave no reason
					e := evs[i]
					if e.ID == "" || e.Subject != sub || e.Actor != "user:cmo" || e.Detail["role"] != string(role) || e.Detail["scope"] != string(want.Scope) ||
						e.Detail["reason"] != want.Reason || e.Detail["window"] != "24h0m0s" {
						t.Errorf("emergency.activated %d = %+v", i, e)
					}
				}
			})
		}
	}
	// Ordinary grants announce no activation; ActivateEmergency announces
	// exactly one; a role made emergency in the change that grants it does.
	a, rec := newLifecycle(t, erCity(), newLCClock(erNoon))
	if _, err := iam.AdminOf(a).Assign(ctx, iam.Grant{Subject: "user:ann", Role: "reader", Scope: "org"}); err != nil {
		t.Fatal(err)
	}
	if _, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:ann", "comp2", "org", time.Hour, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := iam.AdminOf(a).Apply(ctx, iam.Change{PutRoles: []iam.Role{{ID: "clerk", Inherits: []rbac.RoleID{"mid"}}},
		Grant: []iam.Grant{{Subject: "user:cy", Role: "clerk", Scope: "org", NotBefore: erNoon, NotAfter: erNoon.Add(time.Hour), Reason: "y"}}}); err != nil {
		t.Fatal(err)
	}
	if evs := eventsOf(rec, iam.EventEmergencyActivated); len(evs) != 2 || evs[0].Subject != "user:ann" || evs[1].Subject != "user:cy" {
		t.Errorf("emergency.activated = %+v", evs)
	}
}

// TestEmergencyEventNamesGrantsInForceAtTheDecision: the grants a
// decision.emergency event names are those in force at that decision,
// also when another emergency grant begins later on the same policy
// revision, so that its review finds the decision.
func TestEmergencyEventNamesGrantsInForceAtTheDecision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newLCClock(erNoon.Add(-time.Hour))
	a, rec := newLifecycle(t, erCity(), c)
	if _, err := iam.AdminOf(a).Apply(ctx, iam.Change{Grant: []iam.Grant{
		{Subject: "user:ann", Role: "base", Scope: "org", NotBefore: erNoon, NotAfter: erNoon.Add(10 * time.Hour), Reason: "own"},
		{Subject: "group:icu", Role: "mid", Scope: "org", NotBefore: erNoon.Add(2 * time.Hour), NotAfter: erNoon.Add(4 * time.Hour), Reason: "icu surge"},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{time.Hour, 3 * time.Hour, 5 * time.Hour} {
		c.Set(erNoon.Add(at))
		if d, err := a.Check(ctx, "user:ann", "health.record.read", "ward:7"); err != nil || !d.Allowed {
			t.Fatalf("check at +%v: %v, %v", at, d, err)
		}
	}
	evs := eventsOf(rec, iam.EventEmergency)
	if len(evs) != 3 {
		t.Fatalf("%d decision.emergency events, want 3", len(evs))
	}
	for i, want := range []bool{false, true, false} {
		if got := strings.Contains(evs[i].Detail["grants"], "group:icu mid@org"); got != want {
			t.Errorf("event %d names the group grant: %v, want %v (%q)", i, got, want, evs[i].Detail["grants"])
		}
	}
	rv := reports.EmergencyReview(rec.Events(), iam.Activation{Subject: "group:icu", Role: "mid", Scope: "org", From: erNoon.Add(2 * time.Hour), Until: erNoon.Add(4 * time.Hour)})
	if len(rv.Actions) != 1 || rv.Actions[0].Subject != "user:ann" {
		t.Errorf("group review actions = %+v, want ann's one", rv.Actions)
	}
}
