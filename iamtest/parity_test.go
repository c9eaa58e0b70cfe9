package iamtest_test

import (
	"context"
	"errors"
	"maps"
	"path/filepath"

	"gorm.io/gorm"
	"slices"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/pgoutbox"
	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
)

// sqlStore is a production store: a policy source with an outbox.
type sqlStore interface {
	iam.PolicySource
	iam.PolicyWriter
	iam.EventWriter
	Replace(ctx context.Context, m rbac.Model) (int64, error)
}

// productionStores opens each SQL store holding m at revision 1, with its
// handle for pgoutbox's relay. PostgreSQL is skipped (or, with
// IAM_REQUIRE_SERVICES=1, fails) when the test server is unreachable.
var productionStores = []struct {
	name string
	open func(t *testing.T) (sqlStore, *gorm.DB)
}{
	{"sqlite", func(t *testing.T) (sqlStore, *gorm.DB) {
		store, err := sqlitestore.Open(filepath.Join(t.TempDir(), "policy.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if err := sqlitestore.Migrate(context.Background(), store.DB()); err != nil {
			t.Fatal(err)
		}
		return store, store.DB()
	}},
	{"postgres", func(t *testing.T) (sqlStore, *gorm.DB) {
		db := testdb.Postgres(t)
		if err := pgstore.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		store, err := pgstore.New(db)
		if err != nil {
			t.Fatal(err)
		}
		return store, db
	}},
}

func openProduction(t *testing.T, open func(t *testing.T) (sqlStore, *gorm.DB), m rbac.Model) (sqlStore, *gorm.DB) {
	t.Helper()
	store, db := open(t)
	if rev, err := store.Replace(context.Background(), m); err != nil || rev != 1 {
		t.Fatalf("Replace = %d, %v; want revision 1", rev, err)
	}
	return store, db
}

// writer is what the scenario needs from the policy writer.
type writer interface {
	Apply(ctx context.Context, c iam.Change) (int64, error)
	Assign(ctx context.Context, g iam.Grant) (int64, error)
	Revoke(ctx context.Context, k iam.GrantKey, reason string) (int64, error)
	ActivateEmergency(ctx context.Context, sub iam.Subject, role iam.RoleID, scope iam.Scope, window time.Duration, reason string) (iam.Activation, error)
	EndEmergency(ctx context.Context, sub iam.Subject, role iam.RoleID, scope iam.Scope, reason string) (int64, error)
}

var parityModel = rbac.Model{
	Permissions: []rbac.Permission{"permits.application.read", "permits.application.approve", "permits.fee.waive"},
	Roles: []rbac.Role{
		{ID: "clerk", Labels: map[string]string{"en": "Clerk", "fr": "Commis"}, Permissions: []rbac.Permission{"permits.application.read"}},
		{ID: "approver", Permissions: []rbac.Permission{"permits.application.approve"}},
		{ID: "eoc", Emergency: true, Permissions: []rbac.Permission{"permits.*"}},
	},
	Conflicts: []rbac.ConflictRule{{ID: "read-approve", Roles: [2]rbac.RoleID{"clerk", "approver"}}},
	Grants:    []rbac.Grant{{Subject: "user:dan", Role: "approver", Scope: "org"}},
}

// scenario makes the same changes and decisions on any store, calling
// relay after each step (a relay that runs between requests).
func scenario(t *testing.T, a *iam.Authorizer, w writer, clock *iamtest.ManualClock, relay func()) {
	t.Helper()
	ctx := iam.ContextWithActor(context.Background(), "user:admin")
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		relay()
		clock.Advance(time.Minute)
	}
	_, err := w.Apply(ctx, iam.Change{
		PutRoles:       []rbac.Role{{ID: "reviewer", Inherits: []rbac.RoleID{"clerk"}, Permissions: []rbac.Permission{"permits.application.review"}}},
		AddPermissions: []rbac.Permission{"permits.application.review"},
	})
	step("put role", err)
	_, err = w.Assign(ctx, rbac.Grant{Subject: "user:alice", Role: "clerk", Scope: "org", Reason: "hired", NotAfter: clock.Now().Add(48 * time.Hour)})
	step("assign", err)
	_, err = w.Apply(ctx, iam.Change{Join: []rbac.Membership{{Member: "user:bob", Group: "group:clerks"}}, Grant: []rbac.Grant{{Subject: "group:clerks", Role: "reviewer", Scope: "org"}}})
	step("join", err)
	_, err = w.Assign(ctx, rbac.Grant{Subject: "user:dan", Role: "clerk", Scope: "org"})
	if !errors.Is(err, iam.ErrConflict) {
		t.Fatalf("conflicting assign: %v, want ErrConflict", err)
	}
	step("blocked", nil)
	_, err = w.ActivateEmergency(ctx, "user:carol", "eoc", "org", time.Hour, "flood on Main St")
	step("activate", err)
	_, err = a.Check(ctx, "user:carol", "permits.fee.waive", "org")
	step("emergency check", err)
	_, err = w.EndEmergency(ctx, "user:carol", "eoc", "org", "water receded")
	step("end emergency", err)
	_, err = w.Revoke(ctx, rbac.GrantKey{Subject: "user:alice", Role: "clerk", Scope: "org"}, "left")
	step("revoke", err)
}

// TestFakeStoreDeliversEventsAsProductionDoes runs one scenario on the fake
// store and on each SQL store (the embedded SQLite and PostgreSQL), with
// each construction of the
// writer: through the store's outbox and a relay (iam.NewOutboxAdmin; the
// Env's Admin, and pgoutbox's Relay on SQLite) and through the sink after
// commit (iam.NewAdmin). It requires the same events, in the same order,
// with the same content (all but the random ids).
func TestFakeStoreDeliversEventsAsProductionDoes(t *testing.T) {
	t.Parallel()
	for _, ps := range productionStores {
		for _, outbox := range []bool{true, false} {
			name := ps.name + "/outbox"
			if !outbox {
				name = ps.name + "/sink"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				parity(t, ps.open, outbox)
			})
		}
	}
}

func parity(t *testing.T, open func(t *testing.T) (sqlStore, *gorm.DB), outbox bool) {
	t0 := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

	// The fake: the test kit's Env.
	env := iamtest.New(t, parityModel)
	env.Clock.Set(t0)
	admin := env.Admin
	if !outbox {
		admin = iam.NewAdmin(env.Authorizer, env.Store)
	}
	scenario(t, env.Authorizer, admin, env.Clock, func() {})
	fake := env.Events.Events()
	if outbox && env.Store.Pending() != 0 {
		t.Errorf("%d events left in the fake's outbox", env.Store.Pending())
	}

	// Production: a SQL store, its outbox, and pgoutbox's relay.
	ctx := context.Background()
	store, db := openProduction(t, open, parityModel)
	clock := iamtest.NewClock(t0)
	var rec iamtest.Recorder
	a, err := iam.New(ctx, store, iam.WithClock(clock.Now), iam.WithAuditSink(&rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	relay, err := pgoutbox.New(db, &rec)
	if err != nil {
		t.Fatal(err)
	}
	prodAdmin := iam.NewOutboxAdmin(a, store)
	if !outbox {
		prodAdmin = iam.NewAdmin(a, store)
	}
	scenario(t, a, prodAdmin, clock, func() {
		if _, err := relay.RelayOnce(ctx); err != nil {
			t.Fatalf("relay: %v", err)
		}
	})
	prod := rec.Events()

	if len(fake) == 0 {
		t.Fatal("the scenario produced no events")
	}
	if len(fake) != len(prod) {
		t.Errorf("fake delivered %d events, the SQL store %d:\nfake %v\nprod %v", len(fake), len(prod), env.Events.Types(), rec.Types())
	}
	ids := map[string]bool{}
	for i := range min(len(fake), len(prod)) {
		f, p := fake[i], prod[i]
		if f.ID == "" || ids[f.ID] {
			t.Errorf("event %d: fake id %q empty or repeated", i, f.ID)
		}
		ids[f.ID] = true
		if f.Type != p.Type || f.Actor != p.Actor || f.Subject != p.Subject || f.Revision != p.Revision ||
			f.Version != p.Version || !f.Time.Equal(p.Time) || !maps.Equal(f.Detail, p.Detail) {
			t.Errorf("event %d differs:\nfake %+v\nprod %+v", i, f, p)
		}
	}
	want := []string{
		iam.EventRoleChanged, iam.EventPolicy,
		iam.EventRoleAssigned,
		iam.EventRoleAssigned, iam.EventMembership,
		iam.EventRoleAssignmentBlocked,
		iam.EventEmergencyActivated, iam.EventRoleAssigned,
		iam.EventEmergency,
		iam.EventRoleRevoked, iam.EventEmergencyEnded,
		iam.EventRoleRevoked,
	}
	if got := env.Events.Types(); !slices.Equal(got, want) {
		t.Errorf("event types:\n got %v\nwant %v", got, want)
	}
}

// TestSyncOnSQLStoresIsIdempotent: roles as a SQL store gives them back
// (rules in its own order, labels and flags from its extras) compare equal
// to the declaration, so a second deploy writes nothing there either.
func TestSyncOnSQLStoresIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, ps := range productionStores {
		t.Run(ps.name, func(t *testing.T) {
			t.Parallel()
			syncTwice(t, ps.open)
		})
	}
}

func syncTwice(t *testing.T, open func(t *testing.T) (sqlStore, *gorm.DB)) {
	ctx := context.Background()
	store, _ := openProduction(t, open, parityModel)
	a, err := iam.New(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	admin := iam.NewOutboxAdmin(a, store)
	roles := []rbac.Role{
		{ID: "permits-clerk", Labels: map[string]string{"en": "Permit clerk", "fr": "Commis aux permis"},
			Permissions: []rbac.Permission{"permits.application.read", "permits.application.approve", "permits.application.create"}},
		{ID: "permits-reviewer", Inherits: []rbac.RoleID{"permits-clerk", "clerk"}, Composite: true,
			Permissions: []rbac.Permission{"permits.application.review"}, Deny: []rbac.Permission{"permits.fee.waive", "permits.application.approve"}},
		{ID: "permits-eoc", Emergency: true, Permissions: []rbac.Permission{"permits.*"}, Labels: map[string]string{}},
	}
	first, err := admin.Sync(ctx, roles, iam.SyncCatalog("permits.application.create", "permits.application.review"))
	if err != nil || first.Revision != 2 {
		t.Fatalf("first Sync = %+v, %v", first, err)
	}
	slices.Reverse(roles)
	second, err := admin.Sync(ctx, roles, iam.SyncCatalog("permits.application.review", "permits.application.create"))
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if !second.Empty() {
		t.Fatalf("second Sync on SQLite = %+v; the store's copy compares different: %v", second, second.Changed)
	}
	if _, rev, _ := store.LoadPolicy(ctx); rev != 2 {
		t.Fatalf("revision %d after two syncs, want 2", rev)
	}
}
