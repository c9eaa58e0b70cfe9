package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
)

func TestReplaceRefusesEveryViolationShape(t *testing.T) {
	t.Parallel()
	replaceViolationShapes(t, func(t *testing.T, m rbac.Model) replacer {
		dsn, _ := testdb.PostgresSchemaDSN(t)
		db := openDSN(t, dsn)
		if err := pgstore.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		s := newStore(t, db)
		if _, err := s.Replace(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// sodBase is a policy where user:ivan holds po-approver and, since before
// the rule po was added, po-creator until a day from now (a grandfathered
// violation); user:gina is in group:buyers and hank in unit:procurement.
func sodBase(now time.Time) (before, withRule rbac.Model) {
	m := rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:finance"}, {Scope: "dept:parks"}},
		Roles: []rbac.Role{
			{ID: "po-creator", Permissions: []rbac.Permission{"finance.po.create"}},
			{ID: "po-approver", Permissions: []rbac.Permission{"finance.po.approve"}},
			{ID: "clerk", Permissions: []rbac.Permission{"finance.budget.read"}},
		},
		Members: []rbac.Membership{{Member: "user:gina", Group: "group:buyers"}, {Member: "user:hank", Group: "unit:procurement"}},
		Grants: []rbac.Grant{
			{Subject: "user:ivan", Role: "po-approver", Scope: "dept:finance"},
			{Subject: "user:ivan", Role: "po-creator", Scope: "dept:finance", NotAfter: now.Add(24 * time.Hour)},
			{Subject: "user:ivan", Role: "clerk", Scope: "dept:finance"},
			{Subject: "group:buyers", Role: "po-creator", Scope: "dept:finance"},
			{Subject: "unit:procurement", Role: "po-creator", Scope: "org"},
		},
	}
	r := m.Clone()
	r.Conflicts = []rbac.ConflictRule{{ID: "po", Roles: [2]rbac.RoleID{"po-creator", "po-approver"}}}
	return m, r
}

// replaceViolationShapes checks that Replace refuses, and leaves the store
// as it was, every model that creates or enlarges a violation: through a
// group or org unit joined, a role that comes to inherit a side, a waiver
// that has lapsed or not begun, a grandfathered violation extended.
func replaceViolationShapes(t *testing.T, newStore func(t *testing.T, m rbac.Model) replacer) {
	ctx := context.Background()
	now := time.Now()
	before, withRule := sodBase(now)
	edit := func(f func(m *rbac.Model)) rbac.Model { m := withRule.Clone(); f(&m); return m }
	waiver := func(from, until time.Time) func(m *rbac.Model) {
		return func(m *rbac.Model) {
			m.Grants = append(m.Grants, rbac.Grant{Subject: "user:gina", Role: "po-approver", Scope: "dept:parks"})
			m.Waivers = []rbac.Waiver{{Rule: "po", Subject: "user:gina", ApprovedBy: "user:cfo", Reason: "r", NotBefore: from, NotAfter: until}}
		}
	}
	refused := map[string]rbac.Model{
		"joins a group holding a side": edit(func(m *rbac.Model) {
			m.Members = append(m.Members, rbac.Membership{Member: "user:ivan", Group: "group:buyers"})
		}),
		"joins an org unit holding a side": edit(func(m *rbac.Model) {
			m.Members = append(m.Members, rbac.Membership{Member: "user:ivan", Group: "unit:procurement"})
		}),
		"a role he holds inherits a side":   edit(func(m *rbac.Model) { m.Roles[2].Inherits = []rbac.RoleID{"po-creator"} }),
		"grandfathered violation extended":  edit(func(m *rbac.Model) { m.Grants[1].NotAfter = now.Add(48 * time.Hour) }),
		"grandfathered violation made open": edit(func(m *rbac.Model) { m.Grants[1].NotAfter = time.Time{} }),
		"grandfathered violation widened":   edit(func(m *rbac.Model) { m.Grants[1].Scope = "org" }),
		"a member of a group granted the other side": edit(func(m *rbac.Model) {
			m.Grants = append(m.Grants, rbac.Grant{Subject: "group:buyers", Role: "po-approver", Scope: "dept:parks"})
		}),
		"under a lapsed waiver":    edit(waiver(now.Add(-2*time.Hour), now.Add(-time.Hour))),
		"under a waiver not begun": edit(waiver(now.Add(time.Hour), now.Add(2*time.Hour))),
	}
	for name, m := range refused {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, before)
			// The rule arrives over the existing violation.
			if _, err := s.Replace(ctx, withRule); err != nil {
				t.Fatalf("adding the rule over a grandfathered violation: %v", err)
			}
			was, _, err := s.LoadPolicy(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Replace(ctx, m); !errors.Is(err, rbac.ErrConflict) {
				t.Fatalf("Replace: %v, want rbac.ErrConflict", err)
			}
			got, _, err := s.LoadPolicy(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest() != was.Digest() {
				t.Errorf("a refused Replace changed the store")
			}
		})
	}
	// A waiver in force permits it.
	s := newStore(t, before)
	if _, err := s.Replace(ctx, edit(waiver(now.Add(-time.Hour), time.Time{}))); err != nil {
		t.Errorf("Replace under a waiver in force: %v", err)
	}
}

type replacer interface {
	Replace(ctx context.Context, m rbac.Model) (int64, error)
	LoadPolicy(ctx context.Context) (rbac.Model, int64, error)
}
