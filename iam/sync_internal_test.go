package iam

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/civic-platform/security/rbac"
)

var syncRoles = []Role{
	{ID: "permits-clerk", Labels: map[string]string{"en": "Permit clerk", "fr": "Commis aux permis"},
		Permissions: []Permission{"permits.application.read", "permits.application.create"}},
	{ID: "permits-reviewer", Inherits: []RoleID{"permits-clerk"},
		Permissions: []Permission{"permits.application.review"}, Deny: []Permission{"permits.fee.waive"}},
	{ID: "permits-admin", Composite: true, Inherits: []RoleID{"permits-reviewer"}, Permissions: []Permission{"permits.*"}},
}

// cityRoles are roles the city made by hand; a service sync never owns them.
var cityRoles = []Role{{ID: "clerk", Permissions: []Permission{"clerk.agenda.read"}}}

func applyPlan(t *testing.T, m rbac.Model, c Change) rbac.Model {
	t.Helper()
	if c.IsZero() {
		return m
	}
	next, _, err := rbac.Update(m, c)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return next
}

func TestPlanSyncAddsThenHasNothingToDo(t *testing.T) {
	t.Parallel()
	cur := rbac.Model{Roles: cityRoles}
	rep, c, err := planSync(cur, syncRoles, syncOptions{})
	if err != nil {
		t.Fatalf("planSync: %v", err)
	}
	if want := []RoleID{"permits-admin", "permits-clerk", "permits-reviewer"}; !slices.Equal(rep.Added, want) {
		t.Fatalf("Added = %v, want %v", rep.Added, want)
	}
	if len(rep.Changed)+len(rep.Removed)+len(rep.Unchanged) != 0 || rep.Empty() {
		t.Fatalf("first plan = %+v", rep)
	}
	cur = applyPlan(t, cur, c)

	// The same roles, reordered, with their rules reordered and repeated,
	// and a role listed twice: nothing to do.
	shuffled := []Role{
		{ID: "permits-admin", Composite: true, Inherits: []RoleID{"permits-reviewer", "permits-reviewer"}, Permissions: []Permission{"permits.*"}},
		{ID: "permits-clerk", Labels: map[string]string{"fr": "Commis aux permis", "en": "Permit clerk"},
			Permissions: []Permission{"permits.application.create", "permits.application.read", "permits.application.create"}},
		syncRoles[1],
		syncRoles[1],
	}
	rep, c, err = planSync(cur, shuffled, syncOptions{})
	if err != nil {
		t.Fatalf("planSync: %v", err)
	}
	if !rep.Empty() || !c.IsZero() {
		t.Fatalf("second plan = %+v, change %+v; want nothing", rep, c)
	}
	if want := []RoleID{"permits-admin", "permits-clerk", "permits-reviewer"}; !slices.Equal(rep.Unchanged, want) {
		t.Errorf("Unchanged = %v, want %v", rep.Unchanged, want)
	}
}

func TestPlanSyncChangesOnlyTheChangedRole(t *testing.T) {
	t.Parallel()
	_, c, _ := planSync(rbac.Model{Roles: cityRoles}, syncRoles, syncOptions{})
	cur := applyPlan(t, rbac.Model{Roles: cityRoles}, c)

	edited := slices.Clone(syncRoles)
	edited[1] = Role{ID: "permits-reviewer", Inherits: []RoleID{"permits-clerk"}, Labels: map[string]string{"en": "Reviewer"},
		Permissions: []Permission{"permits.application.review", "permits.application.approve"}, Emergency: false, Composite: true}
	rep, c, err := planSync(cur, edited, syncOptions{})
	if err != nil {
		t.Fatalf("planSync: %v", err)
	}
	if len(rep.Changed) != 1 || len(rep.Added)+len(rep.Removed) != 0 {
		t.Fatalf("report = %+v, want one changed role", rep)
	}
	if got, want := rep.Changed[0].String(), "permits-reviewer: +allow permits.application.approve -deny permits.fee.waive labels composite=true"; got != want {
		t.Errorf("diff:\n got %s\nwant %s", got, want)
	}
	if len(c.PutRoles) != 1 || c.PutRoles[0].ID != "permits-reviewer" || len(c.DeleteRoles) != 0 {
		t.Errorf("change = %+v, want only permits-reviewer", c)
	}
}

func TestPlanSyncPrunesOnlyOwnedRoles(t *testing.T) {
	t.Parallel()
	_, c, _ := planSync(rbac.Model{Roles: cityRoles}, syncRoles, syncOptions{})
	cur := applyPlan(t, rbac.Model{Roles: cityRoles}, c)
	owned := func(id RoleID) bool { return strings.HasPrefix(string(id), "permits-") }

	// Without PruneOwned a dropped role stays.
	rep, c, err := planSync(cur, syncRoles[:2], syncOptions{})
	if err != nil || !rep.Empty() || !c.IsZero() {
		t.Fatalf("plan without prune = %+v, %+v, %v; want nothing", rep, c, err)
	}
	rep, c, err = planSync(cur, syncRoles[:2], syncOptions{owned: owned})
	if err != nil {
		t.Fatalf("planSync: %v", err)
	}
	if !slices.Equal(rep.Removed, []RoleID{"permits-admin"}) || !slices.Equal(c.DeleteRoles, []RoleID{"permits-admin"}) {
		t.Fatalf("prune = %+v, change %+v; want permits-admin removed and the city's clerk kept", rep, c)
	}
	// Nothing desired with pruning would delete every owned role: refused.
	if _, _, err := planSync(cur, nil, syncOptions{owned: owned}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("empty desired set with PruneOwned: %v, want ErrInvalidInput", err)
	}
}

func TestPlanSyncCatalog(t *testing.T) {
	t.Parallel()
	cur := rbac.Model{Roles: cityRoles, Permissions: []Permission{"permits.application.read"}}
	rep, c, err := planSync(cur, nil, syncOptions{catalog: []Permission{"permits.applicant.read", "permits.application.read", "permits.applicant.read"}})
	if err != nil {
		t.Fatalf("planSync: %v", err)
	}
	if !slices.Equal(rep.Permissions, []Permission{"permits.applicant.read"}) || !slices.Equal(c.AddPermissions, rep.Permissions) {
		t.Fatalf("catalog plan = %+v, %+v", rep, c)
	}
	cur = applyPlan(t, cur, c)
	if rep, _, _ := planSync(cur, nil, syncOptions{catalog: []Permission{"permits.applicant.read"}}); !rep.Empty() {
		t.Fatalf("second catalog plan = %+v", rep)
	}
}

func TestPlanSyncRefusesConflictingDuplicates(t *testing.T) {
	t.Parallel()
	twice := []Role{syncRoles[0], {ID: "permits-clerk", Permissions: []Permission{"permits.application.read"}}}
	_, _, err := planSync(rbac.Model{}, twice, syncOptions{})
	if !errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrNotFound) {
		t.Fatalf("planSync: %v, want only ErrInvalidInput", err)
	}
}

// TestPlanSyncConverges is the property: any permutation and repetition of
// one desired set, with each role's rules permuted and repeated, converges
// on the same stored roles in one change, after which every further
// permutation has nothing to do.
func TestPlanSyncConverges(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	perms := []Permission{"permits.application.read", "permits.application.create", "permits.application.review",
		"permits.application.approve", "permits.fee.waive", "permits.inspection.record", "permits.*", "permits.application.*"}
	for round := range 200 {
		// A random desired set: up to 6 roles, each inheriting only from
		// earlier ones (so there is no cycle).
		n := 1 + rng.IntN(6)
		desired := make([]Role, n)
		for i := range desired {
			r := Role{ID: RoleID("svc-" + string(rune('a'+i))), Composite: rng.IntN(4) == 0}
			for _, x := range perms {
				switch rng.IntN(5) {
				case 0:
					r.Permissions = append(r.Permissions, x)
				case 1:
					r.Deny = append(r.Deny, x)
				}
			}
			if i > 0 && rng.IntN(2) == 0 {
				r.Inherits = []RoleID{desired[rng.IntN(i)].ID}
			}
			if rng.IntN(2) == 0 {
				r.Labels = map[string]string{"en": string(r.ID), "fr": string(r.ID)}
			}
			desired[i] = r
		}
		variant := func() []Role {
			var out []Role
			for _, r := range desired {
				for range 1 + rng.IntN(2) { // repeated
					r := r
					r.Permissions = shuffleRepeat(rng, r.Permissions)
					r.Deny = shuffleRepeat(rng, r.Deny)
					r.Inherits = shuffleRepeat(rng, r.Inherits)
					out = append(out, r)
				}
			}
			rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
			return out
		}
		start := rbac.Model{Roles: cityRoles}
		var first rbac.Model
		for v := range 5 {
			_, c, err := planSync(start, variant(), syncOptions{})
			if err != nil {
				t.Fatalf("round %d: planSync: %v", round, err)
			}
			got := applyPlan(t, start, c)
			if v == 0 {
				first = got
				continue
			}
			if !sameRoles(first.Roles, got.Roles) {
				t.Fatalf("round %d: two orders of one desired set stored different roles:\n%+v\n%+v", round, first.Roles, got.Roles)
			}
		}
		for range 5 {
			rep, c, err := planSync(first, variant(), syncOptions{})
			if err != nil || !rep.Empty() || !c.IsZero() {
				t.Fatalf("round %d: a repeat sync = %+v, %+v, %v; want nothing to do", round, rep, c, err)
			}
		}
	}
}

func shuffleRepeat[E any](rng *rand.Rand, xs []E) []E {
	out := slices.Clone(xs)
	if len(xs) > 0 && rng.IntN(2) == 0 {
		out = append(out, xs[rng.IntN(len(xs))])
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func sameRoles(a, b []Role) bool {
	canon := func(rs []Role) []Role {
		out := make([]Role, len(rs))
		for i, r := range rs {
			out[i] = canonicalRole(r)
		}
		slices.SortFunc(out, func(x, y Role) int { return strings.Compare(string(x.ID), string(y.ID)) })
		return out
	}
	return slices.EqualFunc(canon(a), canon(b), sameRole)
}
