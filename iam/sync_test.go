package iam_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

// permitsRoles are a permits service's base roles.
var permitsRoles = []iam.Role{
	{ID: "permits-clerk", Labels: map[string]string{"en": "Permit clerk", "fr": "Commis aux permis"},
		Permissions: []iam.Permission{"permits.application.read", "permits.application.create"}},
	{ID: "permits-reviewer", Inherits: []iam.RoleID{"permits-clerk"},
		Permissions: []iam.Permission{"permits.application.review"}, Deny: []iam.Permission{"permits.fee.waive"}},
	{ID: "permits-admin", Composite: true, Inherits: []iam.RoleID{"permits-reviewer"}, Permissions: []iam.Permission{"permits.*"}},
}

// cityModel holds what the city made by hand: a role and a grant of it.
var cityModel = rbac.Model{
	Permissions: []rbac.Permission{"permits.fee.waive", "clerk.agenda.read"},
	Roles:       []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"clerk.agenda.read"}}},
	Grants:      []rbac.Grant{{Subject: "user:alice", Role: "clerk", Scope: "org"}},
}

func revision(t *testing.T, env *iamtest.Env) int64 {
	t.Helper()
	_, rev, err := env.Store.LoadPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func TestSyncTwiceWritesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := iamtest.New(t, cityModel)
	rep, err := env.Admin.Sync(ctx, permitsRoles)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if rep.Revision != 2 || !slices.Equal(rep.Added, []iam.RoleID{"permits-admin", "permits-clerk", "permits-reviewer"}) {
		t.Fatalf("first Sync = %+v", rep)
	}
	if got := env.Events.OfType(iam.EventRoleChanged); len(got) != 3 {
		t.Fatalf("first Sync emitted %d role.changed, want 3", len(got))
	}
	d, err := env.Authorizer.Check(ctx, "user:alice", "clerk.agenda.read", "org")
	if err != nil || !d.Allowed {
		t.Fatalf("the city's role stopped working: %+v, %v", d, err)
	}

	events := env.Events.Len()
	reversed := slices.Clone(permitsRoles)
	slices.Reverse(reversed)
	rep, err = env.Admin.Sync(ctx, reversed)
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if !rep.Empty() || rep.Revision != 0 || len(rep.Unchanged) != 3 {
		t.Fatalf("second Sync = %+v, want nothing to change", rep)
	}
	if got := revision(t, env); got != 2 {
		t.Errorf("revision %d after a second Sync, want 2", got)
	}
	if env.Events.Len() != events {
		t.Errorf("a Sync with nothing to change emitted %v", env.Events.Types()[events:])
	}
}

func TestSyncChangesOnlyTheChangedRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := iamtest.New(t, cityModel)
	if _, err := env.Admin.Sync(ctx, permitsRoles); err != nil {
		t.Fatal(err)
	}
	env.Events.Reset()
	edited := slices.Clone(permitsRoles)
	edited[0].Permissions = append(slices.Clone(edited[0].Permissions), "permits.fee.waive")
	rep, err := env.Admin.Sync(ctx, edited)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if len(rep.Changed) != 1 || rep.Changed[0].String() != "permits-clerk: +allow permits.fee.waive" || rep.Revision != 3 {
		t.Fatalf("Sync = %+v", rep)
	}
	got := env.Events.OfType(iam.EventRoleChanged)
	if len(got) != 1 || got[0].Detail["role"] != "permits-clerk" || env.Events.Len() != 1 {
		t.Fatalf("events %v, want one role.changed for permits-clerk", env.Events.Types())
	}
}

func TestSyncDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := iamtest.New(t, cityModel)
	rep, err := env.Admin.Sync(ctx, permitsRoles, iam.DryRun(), iam.SyncCatalog("permits.application.approve"))
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if !rep.DryRun || len(rep.Added) != 3 || !slices.Equal(rep.Permissions, []iam.Permission{"permits.application.approve"}) || rep.Revision != 0 {
		t.Fatalf("dry run = %+v", rep)
	}
	if revision(t, env) != 1 || env.Events.Len() != 0 || env.Store.Pending() != 0 {
		t.Fatalf("a dry run wrote: revision %d, events %v", revision(t, env), env.Events.Types())
	}
	// A dry run validates against the stored policy: a role inheriting one
	// that does not exist is refused as it would be on a real run.
	bad := append(slices.Clone(permitsRoles), iam.Role{ID: "permits-ghost", Inherits: []iam.RoleID{"nowhere"}})
	if _, err := env.Admin.Sync(ctx, bad, iam.DryRun()); err == nil {
		t.Fatal("a dry run accepted a role inheriting a missing role")
	}
}

func TestSyncPrunesOnlyWhatTheServiceOwns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := iamtest.New(t, cityModel)
	if _, err := env.Admin.Sync(ctx, permitsRoles); err != nil {
		t.Fatal(err)
	}
	owned := iam.PruneOwned(func(id iam.RoleID) bool { return strings.HasPrefix(string(id), "permits-") })

	// Without PruneOwned nothing is deleted.
	if rep, err := env.Admin.Sync(ctx, permitsRoles[:2]); err != nil || !rep.Empty() {
		t.Fatalf("Sync without prune = %+v, %v", rep, err)
	}
	// A pruned role still granted: refused, nothing written.
	if _, err := env.Admin.Assign(ctx, rbac.Grant{Subject: "user:bob", Role: "permits-admin", Scope: "org"}); err != nil {
		t.Fatal(err)
	}
	before := revision(t, env)
	if _, err := env.Admin.Sync(ctx, permitsRoles[:2], owned); err == nil {
		t.Fatal("Sync pruned a role that is still granted")
	}
	if revision(t, env) != before {
		t.Fatal("a refused Sync wrote")
	}
	if _, err := env.Admin.Revoke(ctx, rbac.GrantKey{Subject: "user:bob", Role: "permits-admin", Scope: "org"}, "role retired"); err != nil {
		t.Fatal(err)
	}
	rep, err := env.Admin.Sync(ctx, permitsRoles[:2], owned)
	if err != nil || !slices.Equal(rep.Removed, []iam.RoleID{"permits-admin"}) {
		t.Fatalf("Sync with prune = %+v, %v", rep, err)
	}
	m, _, _ := env.Store.LoadPolicy(ctx)
	if !slices.ContainsFunc(m.Roles, func(r rbac.Role) bool { return r.ID == "clerk" }) {
		t.Fatal("PruneOwned deleted the city's role")
	}
}

func TestSyncRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := iamtest.New(t, cityModel)
	tests := []struct {
		name  string
		roles []iam.Role
	}{
		{"malformed role id", []iam.Role{{ID: "Permits Clerk", Permissions: []iam.Permission{"permits.application.read"}}}},
		{"SQL metacharacters", []iam.Role{{ID: "permits-clerk'; drop table casbin_rule; --", Permissions: []iam.Permission{"permits.application.read"}}}},
		{"look-alike permission", []iam.Role{{ID: "permits-clerk", Permissions: []iam.Permission{"permits.appl\u0456cation.read"}}}},
		{"malformed permission", []iam.Role{{ID: "permits-clerk", Permissions: []iam.Permission{"permits..read"}}}},
		{"oversized id", []iam.Role{{ID: iam.RoleID(strings.Repeat("p", 10_000)), Permissions: []iam.Permission{"permits.application.read"}}}},
		{"declared twice, differently", []iam.Role{
			{ID: "permits-clerk", Permissions: []iam.Permission{"permits.application.read"}},
			{ID: "permits-clerk", Permissions: []iam.Permission{"permits.application.create"}}}},
		{"inheritance cycle", []iam.Role{
			{ID: "permits-a", Inherits: []iam.RoleID{"permits-b"}},
			{ID: "permits-b", Inherits: []iam.RoleID{"permits-a"}}}},
	}
	for _, tt := range tests {
		for _, dry := range []bool{true, false} {
			var opts []iam.SyncOption
			if dry {
				opts = append(opts, iam.DryRun())
			}
			_, err := env.Admin.Sync(ctx, append(slices.Clone(permitsRoles[:1]), tt.roles...), opts...)
			if !errors.Is(err, iam.ErrInvalidInput) {
				t.Errorf("%s (dry run %v): %v, want ErrInvalidInput", tt.name, dry, err)
			}
		}
	}
	if revision(t, env) != 1 || env.Events.Len() != 0 {
		t.Fatalf("refused syncs wrote: revision %d, events %v", revision(t, env), env.Events.Types())
	}
}

// TestSyncConvergesOnOneRevision is the property end to end: any
// permutation and repetition of one desired set, synced in any order,
// leaves the store one revision after the first sync.
func TestSyncConvergesOnOneRevision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	variant := func() []iam.Role {
		var out []iam.Role
		for _, r := range permitsRoles {
			for range 1 + rng.IntN(3) {
				r := r
				r.Permissions = slices.Clone(r.Permissions)
				rng.Shuffle(len(r.Permissions), func(i, j int) { r.Permissions[i], r.Permissions[j] = r.Permissions[j], r.Permissions[i] })
				out = append(out, r)
			}
		}
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	for round := range 10 {
		env := iamtest.New(t, cityModel)
		for i := range 10 {
			rep, err := env.Admin.Sync(ctx, variant())
			if err != nil {
				t.Fatalf("round %d sync %d: %v", round, i, err)
			}
			if (i == 0) == rep.Empty() {
				t.Fatalf("round %d sync %d: report %+v", round, i, rep)
			}
		}
		if got := revision(t, env); got != 2 {
			t.Fatalf("round %d: revision %d after ten syncs of one set, want 2", round, got)
		}
	}
}

// ExampleAdmin_Sync syncs a permits service's base roles at deploy: the
// first run creates them, a dry run shows an edit before it is made, and
// a run with nothing to change writes nothing.
func ExampleAdmin_Sync() {
	ctx := context.Background()
	store := iamtest.NewStore(rbac.Model{})
	authz, err := iam.New(ctx, store)
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	defer authz.Close()
	admin := iam.NewAdmin(authz, store)

	roles := []iam.Role{
		{ID: "permits-clerk", Permissions: []iam.Permission{"permits.application.read"}},
		{ID: "permits-reviewer", Inherits: []iam.RoleID{"permits-clerk"}, Permissions: []iam.Permission{"permits.application.review"}},
	}
	rep, err := admin.Sync(ctx, roles)
	if err != nil {
		fmt.Println("sync:", err)
		return
	}
	fmt.Println("added", rep.Added, "at revision", rep.Revision)

	roles[0].Permissions = append(roles[0].Permissions, "permits.application.create")
	rep, err = admin.Sync(ctx, roles, iam.DryRun())
	if err != nil {
		fmt.Println("sync:", err)
		return
	}
	for _, d := range rep.Changed {
		fmt.Println("would change", d)
	}

	roles[0].Permissions = roles[0].Permissions[:1]
	rep, err = admin.Sync(ctx, roles)
	if err != nil {
		fmt.Println("sync:", err)
		return
	}
	fmt.Println("nothing to do:", rep.Empty(), "revision", authz.Revision())
	// Output:
	// added [permits-clerk permits-reviewer] at revision 2
	// would change permits-clerk: +allow permits.application.create
	// nothing to do: true revision 2
}
