package rbac_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/fixtures"
	"github.com/civic-platform/security/rbac"
)

// sodFixture is the synthetic city with conflict rules between pairs of its
// roles and between two of its permissions.
type sodFixture struct {
	model  rbac.Model
	policy *rbac.Policy
	user   rbac.Subject
	free   rbac.RoleID // a role the user may take without a conflict
	clash  rbac.RoleID // a role that conflicts with one the user holds
	group  rbac.Subject
	// bigGroup is the group or unit with the most members.
	bigGroup rbac.Subject
	at       time.Time
}

var (
	sodOnce sync.Once
	sodFx   sodFixture
	sodErr  error
)

func citySoD(tb testing.TB) sodFixture {
	tb.Helper()
	sodOnce.Do(func() {
		m := fixtures.City(fixtures.Config{})
		// 40 rules between role pairs and one between two permissions.
		nonEmergency := []rbac.RoleID{}
		for _, r := range m.Roles {
			if !r.Emergency {
				nonEmergency = append(nonEmergency, r.ID)
			}
		}
		for i := range 40 {
			a, b := nonEmergency[i*3], nonEmergency[len(nonEmergency)-1-i*3]
			m.Conflicts = append(m.Conflicts, rbac.ConflictRule{ID: fmt.Sprintf("sod-%d", i), Roles: [2]rbac.RoleID{a, b}})
		}
		p, err := rbac.Compile(m)
		if err != nil {
			sodErr = err
			return
		}
		known := p.KnownPermissions()
		m.Conflicts = append(m.Conflicts, rbac.ConflictRule{ID: "sod-perm", Permissions: [2]rbac.Permission{known[0], known[len(known)-1]}})
		if p, err = rbac.Compile(m); err != nil {
			sodErr = err
			return
		}
		fx := sodFixture{model: m, policy: p, at: fixtures.DefaultAt}
		// A user with a permanent grant of the first side of rule 0.
		rule := m.Conflicts[0]
		for _, g := range m.Grants {
			if g.Subject.IsPrincipal() && g.Role == rule.Roles[0] && g.NotAfter.IsZero() {
				fx.user = g.Subject
				break
			}
		}
		if fx.user == "" {
			fx.user = "user:bench"
			m.Grants = append(m.Grants, rbac.Grant{Subject: fx.user, Role: rule.Roles[0], Scope: "org"})
			fx.model = m
			fx.policy, sodErr = rbac.Compile(m)
		}
		fx.clash = rule.Roles[1]
		fx.free = "" // a role in no rule
		inRule := map[rbac.RoleID]bool{}
		for _, r := range m.Conflicts {
			inRule[r.Roles[0]], inRule[r.Roles[1]] = true, true
		}
		for _, r := range m.Roles {
			if !inRule[r.ID] && !r.Emergency {
				fx.free = r.ID
				break
			}
		}
		count := map[rbac.Subject]int{}
		for _, ms := range m.Members {
			if fx.group == "" {
				fx.group = ms.Group
			}
			count[ms.Group]++
			if count[ms.Group] > count[fx.bigGroup] {
				fx.bigGroup = ms.Group
			}
		}
		sodFx = fx
	})
	if sodErr != nil {
		tb.Fatal(sodErr)
	}
	return sodFx
}

// errAny marks a case whose outcome the benchmark does not check.
var errAny = errors.New("any")

// BenchmarkConflictCheck measures rbac.CheckChange for one assignment in the
// synthetic city (10,000 users, 300 roles, 41 conflict rules): the cost the
// conflict check adds to a store's Apply. Target: under 100 µs.
func BenchmarkConflictCheck(b *testing.B) {
	fx := citySoD(b)
	cases := []struct {
		name  string
		grant rbac.Grant
		want  error
	}{
		{"user/no-conflict", rbac.Grant{Subject: fx.user, Role: fx.free, Scope: "dept:bench"}, nil},
		{"user/conflict", rbac.Grant{Subject: fx.user, Role: fx.clash, Scope: "org"}, rbac.ErrConflict},
		{"group/no-conflict", rbac.Grant{Subject: fx.group, Role: fx.free, Scope: "dept:bench"}, nil},
		// A role named by a rule, granted to the largest group: every
		// member's holdings are scanned.
		{"group/rule-role", rbac.Grant{Subject: fx.bigGroup, Role: fx.model.Conflicts[1].Roles[0], Scope: "dept:bench"}, errAny},
	}
	for _, c := range cases {
		change := rbac.Change{Grant: []rbac.Grant{c.grant}}
		next, err := fx.model.Apply(change)
		if err != nil {
			b.Fatal(err)
		}
		after, err := rbac.Compile(next)
		if err != nil {
			b.Fatal(err)
		}
		if err := rbac.CheckChange(fx.model, after, change); c.want != errAny && !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
			b.Fatalf("%s: CheckChange = %v, want %v", c.name, err, c.want)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = rbac.CheckChange(fx.model, after, change)
			}
		})
	}
}

// BenchmarkViolations measures the compliance scan over the whole city
// (10,000 users). Target: under 1 s.
func BenchmarkViolations(b *testing.B) {
	fx := citySoD(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = len(fx.policy.Violations(fx.at))
	}
	b.ReportMetric(float64(n), "violations")
}

func TestConflictCheckInCity(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the 10,000-user city")
	}
	fx := citySoD(t)
	_, _, err := rbac.Update(fx.model, rbac.Change{Grant: []rbac.Grant{{Subject: fx.user, Role: fx.clash, Scope: "org"}}})
	var ce *rbac.ConflictError
	if !errors.As(err, &ce) || ce.Subject != fx.user {
		t.Fatalf("Update in the city: %v, want a conflict for %s", err, fx.user)
	}
	if _, _, err := rbac.Update(fx.model, rbac.Change{Grant: []rbac.Grant{{Subject: fx.user, Role: fx.free, Scope: fx.model.Scopes[0].Scope}}}); err != nil {
		t.Fatalf("free role: %v", err)
	}
	// Pre-existing violations of the rules added to the city are reported.
	t.Logf("%d violations of %d rules among %d subjects", len(fx.policy.Violations(fx.at)), len(fx.model.Conflicts), fx.policy.Subjects())
}
