package rbac_test

import (
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
)

const h = time.Hour

// responders is a policy with an emergency role, a role that inherits it,
// a composite over it, and a person in a group and an org unit.
func responders() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:fire"}, {Scope: "facility:station-1", Parent: "dept:fire"}, {Scope: "dept:building"}},
		Roles: []rbac.Role{
			{ID: "eoc", Emergency: true, Permissions: []rbac.Permission{"fire.apparatus.dispatch"}},
			{ID: "eoc-plus", Inherits: []rbac.RoleID{"eoc"}, Permissions: []rbac.Permission{"transit.route.detour"}},
			{ID: "incident-command", Composite: true, Inherits: []rbac.RoleID{"clerk", "eoc-plus"}},
			{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "reader", Permissions: []rbac.Permission{"permits.application.read"}},
		},
		Members: []rbac.Membership{
			{Member: "user:eve", Group: "group:responders"},
			{Member: "user:eve", Group: "unit:fire"},
			{Member: "svc:cad", Group: "unit:fire"},
		},
		Grants: []rbac.Grant{{Subject: "user:bob", Role: "clerk", Scope: "dept:building"}},
	}
}

// win is a grant of role to sub at scope from noon+from for length.
func win(sub rbac.Subject, role rbac.RoleID, scope rbac.Scope, from, length time.Duration) rbac.Grant {
	return rbac.Grant{Subject: sub, Role: role, Scope: scope, NotBefore: noon.Add(from), NotAfter: noon.Add(from + length), Reason: "flood"}
}

// step is one change made at noon+at.
type step struct {
	at time.Duration
	c  rbac.Change
}

func TestEmergencyWriteRules(t *testing.T) {
	t.Parallel()
	asEmergency := func(r rbac.Role) rbac.Role { r.Emergency = true; return r }
	tests := []struct {
		name  string
		setup func(*rbac.Model) // the stored model, before the steps
		steps []step            // every step but the last must pass
		want  error             // of the last step; nil: accepted
	}{
		// Windows.
		{name: "windowless grant", steps: []step{{0, rbac.Change{Grant: []rbac.Grant{{Subject: "user:eve", Role: "eoc", Scope: "org"}}}}}, want: rbac.ErrEmergency},
		{name: "windowless grant of a role inheriting one", steps: []step{{0, rbac.Change{Grant: []rbac.Grant{{Subject: "user:eve", Role: "eoc-plus", Scope: "org"}}}}}, want: rbac.ErrEmergency},
		{name: "windowless grant of a composite over one", steps: []step{{0, rbac.Change{Grant: []rbac.Grant{{Subject: "group:responders", Role: "incident-command", Scope: "dept:fire"}}}}}, want: rbac.ErrEmergency},
		{name: "open end", steps: []step{{0, rbac.Change{Grant: []rbac.Grant{{Subject: "user:eve", Role: "incident-command", Scope: "org", NotBefore: noon}}}}}, want: rbac.ErrEmergency},
		{name: "window over 24h", steps: []step{{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "incident-command", "org", 0, 24*h+time.Nanosecond)}}}}, want: rbac.ErrEmergency},
		{name: "window of 24h", steps: []step{{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "incident-command", "org", 0, 24*h)}}}}},

		// Turning a granted role into or out of an emergency role.
		{name: "granted role comes to inherit an emergency role",
			setup: func(m *rbac.Model) {
				m.Grants = append(m.Grants, rbac.Grant{Subject: "user:eve", Role: "reader", Scope: "org"})
			},
			steps: []step{{0, rbac.Change{PutRoles: []rbac.Role{{ID: "reader", Inherits: []rbac.RoleID{"eoc"}}}}}}, want: rbac.ErrEmergency},
		{name: "granted role with a short window comes to inherit one through another",
			setup: func(m *rbac.Model) { m.Grants = append(m.Grants, win("user:eve", "reader", "org", 0, 8*h)) },
			steps: []step{{h, rbac.Change{PutRoles: []rbac.Role{{ID: "reader", Inherits: []rbac.RoleID{"incident-command"}}}}}}, want: rbac.ErrEmergency},
		{name: "granted role is flagged emergency",
			setup: func(m *rbac.Model) { m.Grants = append(m.Grants, win("user:eve", "reader", "org", 0, 8*h)) },
			steps: []step{{h, rbac.Change{PutRoles: []rbac.Role{{ID: "reader", Emergency: true}}}}}, want: rbac.ErrEmergency},
		{name: "flag removed while granted",
			setup: func(m *rbac.Model) { m.Grants = append(m.Grants, win("user:eve", "eoc", "org", 0, 8*h)) },
			steps: []step{{h, rbac.Change{PutRoles: []rbac.Role{{ID: "eoc", Permissions: []rbac.Permission{"fire.apparatus.dispatch"}}}}}}, want: rbac.ErrEmergency},
		{name: "flag removed while a role inheriting it is granted to a group",
			setup: func(m *rbac.Model) { m.Grants = append(m.Grants, win("group:responders", "eoc-plus", "org", 2*h, 8*h)) },
			steps: []step{{h, rbac.Change{PutRoles: []rbac.Role{{ID: "eoc"}}}}}, want: rbac.ErrEmergency},
		{name: "inheritance dropped while granted",
			setup: func(m *rbac.Model) { m.Grants = append(m.Grants, win("user:eve", "eoc-plus", "org", 0, 8*h)) },
			steps: []step{{h, rbac.Change{PutRoles: []rbac.Role{{ID: "eoc-plus", Permissions: []rbac.Permission{"transit.route.detour"}}}}}}, want: rbac.ErrEmergency},
		{name: "flag removed once the grants have ended",
			setup: func(m *rbac.Model) { m.Grants = append(m.Grants, win("user:eve", "eoc", "org", 0, 8*h)) },
			steps: []step{{8 * h, rbac.Change{PutRoles: []rbac.Role{{ID: "eoc"}}}}}},
		{name: "flag set on a role nobody holds",
			steps: []step{{0, rbac.Change{PutRoles: []rbac.Role{asEmergency(rbac.Role{ID: "reader"})}}}}},

		// The 24-hour cap.
		{name: "back to back in one change", steps: []step{{0, rbac.Change{Grant: []rbac.Grant{
			win("user:eve", "eoc", "org", 0, 24*h), win("user:eve", "eoc", "dept:fire", 24*h, 24*h)}}}}, want: rbac.ErrEmergency},
		{name: "back to back in two changes", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 24*h)}}},
			{h, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc-plus", "org", 24*h, h)}}}}, want: rbac.ErrEmergency},
		{name: "booked after a gap", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 20*h)}}},
			{h, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "dept:fire", 20*h+time.Second, 10*h)}}}}, want: rbac.ErrEmergency},
		{name: "overlapping", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 20*h)}}},
			{h, rbac.Change{Grant: []rbac.Grant{win("user:eve", "incident-command", "dept:building", 10*h, 20*h)}}}}, want: rbac.ErrEmergency},
		{name: "user, group and unit", steps: []step{
			{-2 * h, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 10*h)}}},
			{-2 * h, rbac.Change{Grant: []rbac.Grant{win("group:responders", "eoc", "org", 10*h, 10*h)}}},
			{-h, rbac.Change{Grant: []rbac.Grant{win("unit:fire", "eoc", "org", 20*h, 10*h)}}}}, want: rbac.ErrEmergency},
		{name: "booked back to back before either starts", steps: []step{
			{-2 * h, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 24*h)}}},
			{-h, rbac.Change{Grant: []rbac.Grant{win("unit:fire", "eoc", "org", 24*h, time.Minute)}}}}, want: rbac.ErrEmergency},
		{name: "nested scopes", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "dept:fire", 0, 16*h), win("user:eve", "eoc", "facility:station-1", 8*h, 17*h)}}}},
			want: rbac.ErrEmergency},
		{name: "joining a group that holds emergency access", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:ann", "eoc", "org", 0, 12*h), win("group:responders", "eoc", "org", 6*h, 24*h)}}},
			{h, rbac.Change{Join: []rbac.Membership{{Member: "user:ann", Group: "group:responders"}}}}}, want: rbac.ErrEmergency},
		{name: "a service account through its unit", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("svc:cad", "eoc", "org", 0, 12*h), win("unit:fire", "eoc", "dept:fire", 12*h, 12*h+time.Minute)}}}},
			want: rbac.ErrEmergency},
		{name: "extended in force by revoke and re-grant", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 12*h)}}},
			{6 * h, rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:eve", Role: "eoc", Scope: "org"}}, Grant: []rbac.Grant{win("user:eve", "eoc", "org", 6*h, 24*h)}}}},
			want: rbac.ErrEmergency},
		{name: "extended in force by a longer window", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 12*h)}}},
			{6 * h, rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:eve", Role: "eoc", Scope: "org"}}, Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 25*h)}}}},
			want: rbac.ErrEmergency},
		{name: "different people are capped apart", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 24*h), win("user:ann", "eoc", "org", 12*h, 24*h)}}}}},
		{name: "several within 24h", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 8*h), win("group:responders", "eoc", "dept:fire", 4*h, 8*h)}}},
			{-h, rbac.Change{Grant: []rbac.Grant{win("unit:fire", "eoc-plus", "facility:station-1", 12*h, 12*h)}}}}},
		{name: "a window inside the one in force", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 8*h)}}},
			{h, rbac.Change{Grant: []rbac.Grant{win("group:responders", "eoc", "dept:fire", 2*h, 6*h)}}}}},
		{name: "extended within 24h while in force", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 2*h)}}},
			{h, rbac.Change{Grant: []rbac.Grant{win("unit:fire", "eoc", "dept:fire", h, 2*h)}}}}, want: rbac.ErrEmergency},
		{name: "revoke in force and activate anew in one change", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 12*h)}}},
			{6 * h, rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:eve", Role: "eoc", Scope: "org"}}, Grant: []rbac.Grant{win("user:eve", "eoc", "dept:fire", 6*h, 24*h)}}}},
			want: rbac.ErrEmergency},
		{name: "revoke in force, then activate anew", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 12*h)}}},
			{6 * h, rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:eve", Role: "eoc", Scope: "org"}}}},
			{6 * h, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "dept:fire", 6*h, 24*h)}}}}},
		{name: "an ended window stays in the model", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 24*h)}}},
			{30 * h, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "dept:fire", 30*h, 24*h)}}},
			{31 * h, rbac.Change{Grant: []rbac.Grant{win("group:responders", "eoc", "dept:fire", 32*h, 4*h)}}}}},
		{name: "new activation once access has ended", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 24*h)}}},
			{24 * h, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "dept:fire", 24*h, 24*h)}}}}},
		{name: "new activation a moment before access has ended", steps: []step{
			{0, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "org", 0, 24*h)}}},
			{24*h - time.Nanosecond, rbac.Change{Grant: []rbac.Grant{win("user:eve", "eoc", "dept:fire", 24*h, 24*h)}}}}, want: rbac.ErrEmergency},
		{name: "a span already over the cap may shrink",
			setup: func(m *rbac.Model) {
				m.Grants = append(m.Grants, win("user:eve", "eoc", "org", 0, 20*h), win("user:eve", "eoc", "dept:fire", 10*h, 20*h))
			},
			steps: []step{{h, rbac.Change{Revoke: []rbac.GrantKey{{Subject: "user:eve", Role: "eoc", Scope: "dept:fire"}}}}}},
		{name: "a span already over the cap may not grow",
			setup: func(m *rbac.Model) {
				m.Grants = append(m.Grants, win("user:eve", "eoc", "org", 0, 20*h), win("user:eve", "eoc", "dept:fire", 10*h, 20*h))
			},
			steps: []step{{h, rbac.Change{Grant: []rbac.Grant{win("group:responders", "eoc", "org", 29*h, 2*h)}}}}, want: rbac.ErrEmergency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := responders()
			if tt.setup != nil {
				tt.setup(&m)
			}
			for i, s := range tt.steps {
				s.c.At = noon.Add(s.at)
				next, _, err := rbac.Update(m, s.c)
				if i < len(tt.steps)-1 || tt.want == nil {
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					m = next
					continue
				}
				if !errors.Is(err, tt.want) || !errors.Is(err, rbac.ErrInvalidInput) {
					t.Fatalf("step %d: %v, want %v", i, err, tt.want)
				}
				var ee *rbac.EmergencyError
				if !errors.As(err, &ee) {
					t.Errorf("error %T is not an *EmergencyError", err)
				}
			}
		})
	}
}

func TestGrantWriteRules(t *testing.T) {
	t.Parallel()
	m := responders()
	on := true
	tests := []struct {
		name string
		c    rbac.Change
		want error
	}{
		{"window already ended", rbac.Change{At: noon, Grant: []rbac.Grant{{Subject: "user:ann", Role: "clerk", Scope: "dept:fire", NotAfter: noon}}}, rbac.ErrInvalidInput},
		{"closed window already ended", rbac.Change{At: noon, Grant: []rbac.Grant{win("user:ann", "clerk", "dept:fire", -3*h, h)}}, rbac.ErrInvalidInput},
		{"emergency window already ended", rbac.Change{At: noon, Grant: []rbac.Grant{win("user:ann", "eoc", "dept:fire", -3*h, h)}}, rbac.ErrInvalidInput},
		{"window ends later", rbac.Change{At: noon, Grant: []rbac.Grant{win("user:ann", "clerk", "dept:fire", -3*h, 3*h+time.Nanosecond)}}, nil},
		{"undeclared scope", rbac.Change{Grant: []rbac.Grant{{Subject: "user:ann", Role: "clerk", Scope: "dept:buildng"}}}, rbac.ErrInvalidInput},
		{"undeclared facility", rbac.Change{Grant: []rbac.Grant{{Subject: "group:responders", Role: "clerk", Scope: "facility:station-2"}}}, rbac.ErrInvalidInput},
		{"declared in the same change", rbac.Change{PutScopes: []rbac.ScopeNode{{Scope: "ward:3"}}, Grant: []rbac.Grant{{Subject: "user:ann", Role: "clerk", Scope: "ward:3"}}}, nil},
		{"opted into implicit scopes in the same change", rbac.Change{ImplicitScopes: &on, Grant: []rbac.Grant{{Subject: "user:ann", Role: "clerk", Scope: "ward:3"}}}, nil},
		{"org", rbac.Change{Grant: []rbac.Grant{{Subject: "user:ann", Role: "clerk", Scope: "org"}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := rbac.Update(m, tt.c)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Update = %v, want %v", err, tt.want)
			}
		})
	}
	// A model that opts in accepts grants at undeclared scopes.
	m.ImplicitScopes = true
	if _, _, err := rbac.Update(m, rbac.Change{Grant: []rbac.Grant{{Subject: "user:ann", Role: "clerk", Scope: "dept:roads"}}}); err != nil {
		t.Errorf("implicit scopes: %v", err)
	}
	// Stored grants at undeclared scopes still load.
	m.ImplicitScopes = false
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:old", Role: "clerk", Scope: "dept:legacy"})
	if _, err := rbac.Compile(m); err != nil {
		t.Errorf("stored grant at an undeclared scope: %v", err)
	}
	if _, _, err := rbac.Update(m, rbac.Change{Grant: []rbac.Grant{{Subject: "user:ann", Role: "clerk", Scope: "dept:fire"}}}); err != nil {
		t.Errorf("unrelated change next to a stored grant at an undeclared scope: %v", err)
	}
}

func TestExpectGrants(t *testing.T) {
	t.Parallel()
	m := responders()
	m.Grants = append(m.Grants, win("user:eve", "clerk", "dept:fire", -2*h, h))
	read := m.Grants[len(m.Grants)-1]
	k := read.Key()
	if _, _, err := rbac.Update(m, rbac.Change{Revoke: []rbac.GrantKey{k}, ExpectGrants: []rbac.Grant{read}}); err != nil {
		t.Fatalf("as read: %v", err)
	}
	for name, alter := range map[string]func(g *rbac.Grant){
		"extended":   func(g *rbac.Grant) { g.NotAfter = g.NotAfter.Add(h) },
		"moved":      func(g *rbac.Grant) { g.NotBefore = g.NotBefore.Add(time.Nanosecond) },
		"made open":  func(g *rbac.Grant) { g.NotAfter = time.Time{} },
		"new reason": func(g *rbac.Grant) { g.Reason = "other" },
	} {
		stored := m.Clone()
		alter(&stored.Grants[len(stored.Grants)-1])
		_, _, err := rbac.Update(stored, rbac.Change{Revoke: []rbac.GrantKey{k}, ExpectGrants: []rbac.Grant{read}})
		var ce *rbac.ChangedError
		if !errors.Is(err, rbac.ErrChanged) || !errors.As(err, &ce) || ce.Grant != k {
			t.Errorf("%s: %v, want ErrChanged for %s", name, err, k)
		}
	}
	// Waivers.
	m.Conflicts = []rbac.ConflictRule{{ID: "r", Roles: [2]rbac.RoleID{"clerk", "reader"}}}
	w := rbac.Waiver{Rule: "r", Subject: "user:eve", ApprovedBy: "user:boss", Reason: "small office", NotAfter: noon}
	m.Waivers = []rbac.Waiver{w}
	if _, _, err := rbac.Update(m, rbac.Change{DeleteWaivers: []rbac.WaiverKey{w.Key()}, ExpectWaivers: []rbac.Waiver{w}}); err != nil {
		t.Fatalf("waiver as read: %v", err)
	}
	for name, alter := range map[string]func(w *rbac.Waiver){
		"extended":     func(w *rbac.Waiver) { w.NotAfter = w.NotAfter.Add(h) },
		"delayed":      func(w *rbac.Waiver) { w.NotBefore = noon.Add(-h) },
		"new approver": func(w *rbac.Waiver) { w.ApprovedBy = "user:cfo" },
		"new reason":   func(w *rbac.Waiver) { w.Reason = "other" },
	} {
		stored := m.Clone()
		alter(&stored.Waivers[0])
		_, _, err := rbac.Update(stored, rbac.Change{DeleteWaivers: []rbac.WaiverKey{w.Key()}, ExpectWaivers: []rbac.Waiver{w}})
		var ce *rbac.ChangedError
		if !errors.Is(err, rbac.ErrChanged) || !errors.As(err, &ce) || ce.Waiver != w.Key() {
			t.Errorf("waiver %s: %v, want ErrChanged for %v", name, err, w.Key())
		}
	}
	gone := m.Clone()
	gone.Grants = gone.Grants[:len(gone.Grants)-1]
	if _, _, err := rbac.Update(gone, rbac.Change{Grant: []rbac.Grant{{Subject: "user:zed", Role: "clerk", Scope: "org"}}, ExpectGrants: []rbac.Grant{read}}); !errors.Is(err, rbac.ErrChanged) {
		t.Errorf("revoked since read: %v, want ErrChanged", err)
	}
}

func TestEmergencyIsTransitive(t *testing.T) {
	t.Parallel()
	m := responders()
	m.Grants = append(m.Grants, win("user:eve", "incident-command", "dept:fire", 0, 8*h), win("user:ann", "clerk", "dept:fire", 0, 8*h))
	p, err := rbac.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	for role, want := range map[rbac.RoleID]bool{"eoc": true, "eoc-plus": true, "incident-command": true, "clerk": false, "reader": false, "nope": false} {
		if got := p.IsEmergency(role); got != want {
			t.Errorf("IsEmergency(%s) = %v, want %v", role, got, want)
		}
		if got := rbac.EmergencyRoles(m)[role]; got != want {
			t.Errorf("EmergencyRoles[%s] = %v, want %v", role, got, want)
		}
	}
	at := noon.Add(h)
	for _, tc := range []struct {
		sub   rbac.Subject
		perm  rbac.Permission
		scope rbac.Scope
		allow bool
		emerg bool
	}{
		{"user:eve", "fire.apparatus.dispatch", "facility:station-1", true, true}, // through composite → eoc-plus → eoc
		{"user:eve", "permits.application.read", "dept:fire", true, true},         // the composite's other part: still granted by emergency
		{"user:eve", "fire.apparatus.dispatch", "dept:building", false, false},    // outside the grant's scope
		{"user:ann", "permits.application.read", "dept:fire", true, false},
	} {
		q, err := p.Resolve(tc.perm, tc.scope)
		if err != nil {
			t.Fatal(err)
		}
		res := p.Decide(tc.sub, q, at)
		if res.Allowed != tc.allow || res.Emergency != tc.emerg {
			t.Errorf("%s %s@%s = %+v, want allowed %v emergency %v", tc.sub, tc.perm, tc.scope, res, tc.allow, tc.emerg)
		}
	}
	if got := p.EmergencyGrants("user:eve", "facility:station-1", noon.Add(h)); len(got) != 1 || got[0].Role != "incident-command" {
		t.Errorf("EmergencyGrants = %v", got)
	}
}

// TestEmergencySpanCapProperty applies random emergency grants and
// revocations — to people, their groups and their org units, at nested
// scopes, one change at a time at increasing instants — and checks the
// access people actually get against the cap: each window counts from the
// moment it was granted (no one acts in the past) to its end or its
// revocation; and a stretch of unbroken access may pass 24 hours only at a
// new activation, a change made while the person had no emergency access
// in force.
func TestEmergencySpanCapProperty(t *testing.T) {
	t.Parallel()
	for seed := range uint64(500) {
		checkEmergencyCap(t, seed)
	}
}

// FuzzEmergencyCap runs the property of TestEmergencySpanCapProperty for
// the seeds the fuzzer finds.
func FuzzEmergencyCap(f *testing.F) {
	for _, seed := range []uint64{0, 70, 161, 371, 487, 511, 571, 1 << 40} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkEmergencyCap(t, seed) })
}

// checkEmergencyCap is the cap property for the change sequence that seed
// generates.
func checkEmergencyCap(t *testing.T, seed uint64) {
	people := []rbac.Subject{"user:eve", "svc:cad"}
	subjects := []rbac.Subject{"user:eve", "svc:cad", "group:responders", "unit:fire"}
	scopes := []rbac.Scope{"org", "dept:fire", "facility:station-1", "dept:building"}
	roles := []rbac.RoleID{"eoc", "eoc-plus", "incident-command"}
	reaches := func(m rbac.Model, person, holder rbac.Subject) bool {
		return holder == person || slices.Contains(m.Members, rbac.Membership{Member: person, Group: holder})
	}
	r := rand.New(rand.NewPCG(seed, 9))
	m := responders()
	emergency := rbac.EmergencyRoles(m)
	now := noon
	created := map[rbac.GrantKey]time.Time{}
	var served []window                     // windows as they were in force, cut at revocation
	fresh := map[rbac.Subject][]time.Time{} // new activations per person
	for range 14 {
		now = now.Add(time.Duration(r.IntN(12)) * h)
		var c rbac.Change
		if r.IntN(4) == 0 && len(m.Grants) > 1 {
			c.Revoke = []rbac.GrantKey{m.Grants[1+r.IntN(len(m.Grants)-1)].Key()}
		} else {
			from := now.Add(time.Duration(r.IntN(30)-5) * h)
			g := rbac.Grant{Subject: subjects[r.IntN(len(subjects))], Role: roles[r.IntN(len(roles))], Scope: scopes[r.IntN(len(scopes))],
				NotBefore: from, NotAfter: from.Add(time.Duration(1+r.IntN(24)) * h)}
			c.Grant = []rbac.Grant{g}
			if slices.ContainsFunc(m.Grants, func(x rbac.Grant) bool { return x.Key() == g.Key() }) {
				c.Revoke = []rbac.GrantKey{g.Key()}
			}
		}
		c.At = now
		next, _, err := rbac.Update(m, c)
		if err != nil {
			if !errors.Is(err, rbac.ErrInvalidInput) {
				t.Fatalf("seed %d: unexpected error %v", seed, err)
			}
			continue
		}
		for _, person := range people {
			inForce := slices.ContainsFunc(m.Grants, func(g rbac.Grant) bool {
				return emergency[g.Role] && reaches(m, person, g.Subject) && g.ActiveAt(now)
			})
			if !inForce {
				fresh[person] = append(fresh[person], now)
			}
		}
		for _, k := range c.Revoke {
			for _, g := range m.Grants {
				if g.Key() == k && emergency[g.Role] {
					served = append(served, window{g.Subject, maxTime(g.NotBefore, created[k]), minTime(g.NotAfter, now)})
				}
			}
		}
		for _, g := range c.Grant {
			created[g.Key()] = now
		}
		m = next
		for _, person := range people {
			var ws []window
			for _, w := range served {
				if reaches(m, person, w.holder) && w.from.Before(w.until) {
					ws = append(ws, w)
				}
			}
			for _, g := range m.Grants {
				if emergency[g.Role] && reaches(m, person, g.Subject) {
					ws = append(ws, window{g.Subject, maxTime(g.NotBefore, created[g.Key()]), g.NotAfter})
				}
			}
			if run, from := longestRun(ws, fresh[person]); run > 24*h {
				t.Fatalf("seed %d: %s holds emergency access for %s unbroken from %s; grants %+v", seed, person, run, from, m.Grants)
			}
		}
	}
}

// window is emergency access through holder from from until until.
type window struct {
	holder      rbac.Subject
	from, until time.Time
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// longestRun returns the longest unbroken stretch the windows cover
// (merged where they overlap or meet), cut at the instants in cuts, and
// where it starts.
func longestRun(ws []window, cuts []time.Time) (time.Duration, time.Time) {
	type iv struct{ from, until time.Time }
	var ivs []iv
	for _, w := range ws {
		ivs = append(ivs, iv{w.from, w.until})
	}
	slices.SortFunc(ivs, func(a, b iv) int { return a.from.Compare(b.from) })
	var best time.Duration
	var bestFrom time.Time
	measure := func(from, until time.Time) {
		start := from
		for _, c := range cuts {
			if c.After(start) && c.Before(until) {
				if d := c.Sub(start); d > best {
					best, bestFrom = d, start
				}
				start = c
			}
		}
		if d := until.Sub(start); d > best {
			best, bestFrom = d, start
		}
	}
	for i := 0; i < len(ivs); {
		from, until := ivs[i].from, ivs[i].until
		j := i + 1
		for ; j < len(ivs) && !ivs[j].from.After(until); j++ {
			if ivs[j].until.After(until) {
				until = ivs[j].until
			}
		}
		measure(from, until)
		i = j
	}
	return best, bestFrom
}

func TestCheckEmergencyReplace(t *testing.T) {
	t.Parallel()
	before := responders()
	before.Grants = append(before.Grants, win("user:eve", "eoc", "org", 0, 8*h), win("user:ann", "reader", "org", 0, 8*h))
	at := noon.Add(h)
	tests := []struct {
		name string
		edit func(*rbac.Model)
		want error
	}{
		{"unchanged", func(*rbac.Model) {}, nil},
		{"flag removed while granted", func(m *rbac.Model) { m.Roles[0].Emergency = false }, rbac.ErrEmergency},
		{"granted role made to inherit one", func(m *rbac.Model) { m.Roles[4].Inherits = []rbac.RoleID{"eoc"} }, rbac.ErrEmergency},
		{"extended in force", func(m *rbac.Model) { m.Grants[1].NotAfter = noon.Add(9 * h) }, rbac.ErrEmergency},
		{"followed by a unit's window", func(m *rbac.Model) { m.Grants = append(m.Grants, win("unit:fire", "eoc", "org", 8*h, h)) }, rbac.ErrEmergency},
		{"shortened", func(m *rbac.Model) { m.Grants[1].NotAfter = noon.Add(2 * h) }, nil},
		{"another person within the cap", func(m *rbac.Model) { m.Grants = append(m.Grants, win("user:zoe", "eoc", "org", 2*h, 24*h)) }, nil},
	}
	for _, tt := range tests {
		after := before.Clone()
		tt.edit(&after)
		err := rbac.CheckEmergencyReplace(before, after, at)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

// EmergencyRolesAfter decides on the roles a change leaves, by the same
// rule Compile folds into IsEmergency: a role put, replaced or deleted by
// the change counts as the change leaves it, and inheritance through
// untouched roles follows.
func TestEmergencyRolesAfter(t *testing.T) {
	t.Parallel()
	m := responders()
	for name, tc := range map[string]struct {
		c    rbac.Change
		want []rbac.RoleID
	}{
		"no role change": {rbac.Change{Grant: []rbac.Grant{win("user:eve", "clerk", "dept:fire", 0, h)}},
			[]rbac.RoleID{"eoc", "eoc-plus", "incident-command"}},
		"flag cleared at the root": {rbac.Change{PutRoles: []rbac.Role{{ID: "eoc", Permissions: []rbac.Permission{"fire.apparatus.dispatch"}}}},
			nil},
		"new role inherits one": {rbac.Change{PutRoles: []rbac.Role{{ID: "deputy", Inherits: []rbac.RoleID{"eoc-plus"}}}},
			[]rbac.RoleID{"eoc", "eoc-plus", "incident-command", "deputy"}},
		"clerk flagged reaches the composite": {rbac.Change{PutRoles: []rbac.Role{{ID: "clerk", Emergency: true, Permissions: []rbac.Permission{"permits.application.read"}}},
			DeleteRoles: []rbac.RoleID{"eoc-plus"}},
			[]rbac.RoleID{"eoc", "clerk", "incident-command"}},
		"deleting an unknown role changes nothing": {rbac.Change{DeleteRoles: []rbac.RoleID{"nope"}},
			[]rbac.RoleID{"eoc", "eoc-plus", "incident-command"}},
	} {
		got := rbac.EmergencyRolesAfter(m, tc.c)
		want := map[rbac.RoleID]bool{}
		for _, r := range tc.want {
			want[r] = true
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: EmergencyRolesAfter = %v, want %v", name, got, want)
		}
		if next, err := m.Apply(tc.c); err == nil {
			if p, err := rbac.Compile(next); err == nil {
				for _, r := range next.Roles {
					if p.IsEmergency(r.ID) != got[r.ID] {
						t.Errorf("%s: IsEmergency(%s) = %v after the change, EmergencyRolesAfter says %v", name, r.ID, p.IsEmergency(r.ID), got[r.ID])
					}
				}
			}
		}
	}
	if !maps.Equal(rbac.EmergencyRoles(m), map[rbac.RoleID]bool{"eoc": true, "eoc-plus": true, "incident-command": true}) {
		t.Error("EmergencyRolesAfter changed m")
	}
}
