package iam

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/civic-platform/security/rbac"
)

// A SyncOption configures a sync of a service's roles (see [SyncReport]).
type SyncOption func(*syncOptions)

type syncOptions struct {
	dryRun  bool
	owned   func(RoleID) bool // PruneOwned; nil: remove nothing
	catalog []Permission      // SyncCatalog
}

// DryRun makes a sync report what it would change and write nothing. The
// change is still validated against the stored policy, so a dry run that
// succeeds describes a sync that would succeed on that policy.
func DryRun() SyncOption { return func(o *syncOptions) { o.dryRun = true } }

// PruneOwned makes a sync delete the stored roles for which owned returns
// true and that are not in the desired set: the roles a service declared
// once and has since dropped. Without it (the default) a sync never
// deletes a role, so roles the city made by hand, and roles other services
// own, are safe from a service that did not declare them. owned should
// recognise exactly the roles this service declares, e.g. by an id prefix
// such as "permits-". A pruned role that is still granted or inherited
// makes the sync fail and write nothing.
func PruneOwned(owned func(RoleID) bool) SyncOption {
	return func(o *syncOptions) { o.owned = owned }
}

// SyncCatalog makes a sync add to the policy's permission catalog
// ([rbac.Model.Permissions]) each of perms it lacks, so that wildcard
// rules cover them; for instance templates.Set.Permissions after the
// service registered its own. A sync never removes catalog entries.
func SyncCatalog(perms ...Permission) SyncOption {
	return func(o *syncOptions) { o.catalog = append(o.catalog, perms...) }
}

// SyncReport says what a sync of a service's roles changed, or, with
// [DryRun], would change. Roles are compared as the stores keep them: the
// order and repetition of rules and parents do not count, and neither does
// an empty label map against none. Lists are sorted.
type SyncReport struct {
	// DryRun is set when nothing was written.
	DryRun bool `json:"dry_run"`
	// Added are desired roles the policy does not have.
	Added []RoleID `json:"added"`
	// Changed are desired roles that differ from the stored ones, with
	// what differs.
	Changed []RoleDiff `json:"changed"`
	// Removed are stored roles deleted because [PruneOwned] claims them
	// and the desired set no longer has them.
	Removed []RoleID `json:"removed"`
	// Unchanged are desired roles already stored as desired.
	Unchanged []RoleID `json:"unchanged"`
	// Permissions are catalog entries added ([SyncCatalog]).
	Permissions []Permission `json:"permissions"`
	// Revision is the revision the sync wrote; 0 when it wrote nothing
	// (no change, or a dry run).
	Revision int64 `json:"revision"`
}

// Empty reports whether the sync has nothing to change.
func (r SyncReport) Empty() bool {
	return len(r.Added)+len(r.Changed)+len(r.Removed)+len(r.Permissions) == 0
}

// RoleDiff is how a stored role differs from the desired one. Add* and
// Remove* list what the sync adds to or removes from the stored role.
type RoleDiff struct {
	Role           RoleID       `json:"role"`
	AddAllow       []Permission `json:"add_allow,omitempty"`
	RemoveAllow    []Permission `json:"remove_allow,omitempty"`
	AddDeny        []Permission `json:"add_deny,omitempty"`
	RemoveDeny     []Permission `json:"remove_deny,omitempty"`
	AddInherits    []RoleID     `json:"add_inherits,omitempty"`
	RemoveInherits []RoleID     `json:"remove_inherits,omitempty"`
	// LabelsChanged is set when the labels differ; Labels holds the
	// desired ones (none when the desired role has no labels).
	LabelsChanged bool              `json:"labels_changed,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	// Composite and Emergency hold the desired flag when it differs.
	Composite *bool `json:"composite,omitempty"`
	Emergency *bool `json:"emergency,omitempty"`
}

// String describes d in one line: "permits-clerk: +allow permits.x.y -deny ...".
func (d RoleDiff) String() string {
	var b strings.Builder
	b.WriteString(string(d.Role) + ":")
	list := func(sign, what string, xs []string) {
		for _, x := range xs {
			fmt.Fprintf(&b, " %s%s %s", sign, what, x)
		}
	}
	list("+", "allow", strs(d.AddAllow))
	list("-", "allow", strs(d.RemoveAllow))
	list("+", "deny", strs(d.AddDeny))
	list("-", "deny", strs(d.RemoveDeny))
	list("+", "inherits", strs(d.AddInherits))
	list("-", "inherits", strs(d.RemoveInherits))
	if d.LabelsChanged {
		b.WriteString(" labels")
	}
	if d.Composite != nil {
		fmt.Fprintf(&b, " composite=%v", *d.Composite)
	}
	if d.Emergency != nil {
		fmt.Fprintf(&b, " emergency=%v", *d.Emergency)
	}
	return b.String()
}

func strs[S ~string](xs []S) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// planSync compares the desired roles with the stored model cur and
// returns the report and the one change that makes cur hold them. The
// change is zero when nothing differs. The desired roles are put in their
// canonical form (rules and parents sorted, without repeats), so the
// same set in any order yields the same change. A role id desired twice
// with different content is refused as invalid input.
func planSync(cur rbac.Model, desired []Role, o syncOptions) (SyncReport, Change, error) {
	want := make(map[RoleID]Role, len(desired))
	for _, r := range desired {
		r = canonicalRole(r)
		if prev, dup := want[r.ID]; dup && !sameRole(prev, r) {
			return SyncReport{}, Change{}, fmt.Errorf("iam: sync: role %q is declared twice, differently: %w", r.ID, ErrInvalidInput)
		}
		want[r.ID] = r
	}
	if o.owned != nil && len(want) == 0 {
		return SyncReport{}, Change{}, fmt.Errorf("iam: sync: no desired roles with PruneOwned would delete every owned role: %w", ErrInvalidInput)
	}
	stored := make(map[RoleID]Role, len(cur.Roles))
	for _, r := range cur.Roles {
		stored[r.ID] = canonicalRole(r)
	}
	rep := SyncReport{DryRun: o.dryRun}
	var c Change
	for _, id := range slices.Sorted(maps.Keys(want)) {
		w := want[id]
		s, ok := stored[id]
		switch {
		case !ok:
			rep.Added = append(rep.Added, id)
			c.PutRoles = append(c.PutRoles, w)
		case sameRole(s, w):
			rep.Unchanged = append(rep.Unchanged, id)
		default:
			rep.Changed = append(rep.Changed, diffRole(s, w))
			c.PutRoles = append(c.PutRoles, w)
		}
	}
	if o.owned != nil {
		for _, id := range slices.Sorted(maps.Keys(stored)) {
			if _, keep := want[id]; !keep && o.owned(id) {
				rep.Removed = append(rep.Removed, id)
				c.DeleteRoles = append(c.DeleteRoles, id)
			}
		}
	}
	have := make(map[Permission]bool, len(cur.Permissions))
	for _, x := range cur.Permissions {
		have[x] = true
	}
	for _, x := range sortedSet(o.catalog) {
		if !have[x] {
			rep.Permissions = append(rep.Permissions, x)
			c.AddPermissions = append(c.AddPermissions, x)
		}
	}
	return rep, c, nil
}

// canonicalRole returns r as a store keeps it: rules and parents sorted
// without repeats, no empty label map.
func canonicalRole(r Role) Role {
	r.Permissions = sortedSet(r.Permissions)
	r.Deny = sortedSet(r.Deny)
	r.Inherits = sortedSet(r.Inherits)
	if len(r.Labels) == 0 {
		r.Labels = nil
	} else {
		r.Labels = maps.Clone(r.Labels)
	}
	return r
}

func sortedSet[S ~[]E, E cmp.Ordered](xs S) S {
	if len(xs) == 0 {
		return nil
	}
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

// sameRole compares two canonical roles.
func sameRole(a, b Role) bool {
	return a.ID == b.ID && a.Composite == b.Composite && a.Emergency == b.Emergency &&
		slices.Equal(a.Permissions, b.Permissions) && slices.Equal(a.Deny, b.Deny) &&
		slices.Equal(a.Inherits, b.Inherits) && maps.Equal(a.Labels, b.Labels)
}

// diffRole says how the canonical stored role s differs from the
// canonical desired role w.
func diffRole(s, w Role) RoleDiff {
	d := RoleDiff{Role: w.ID}
	d.AddAllow, d.RemoveAllow = setDiff(s.Permissions, w.Permissions)
	d.AddDeny, d.RemoveDeny = setDiff(s.Deny, w.Deny)
	d.AddInherits, d.RemoveInherits = setDiff(s.Inherits, w.Inherits)
	if !maps.Equal(s.Labels, w.Labels) {
		d.LabelsChanged, d.Labels = true, maps.Clone(w.Labels)
	}
	if s.Composite != w.Composite {
		d.Composite = &w.Composite
	}
	if s.Emergency != w.Emergency {
		d.Emergency = &w.Emergency
	}
	return d
}

// setDiff returns what is in want and not in have, and the reverse; both
// inputs are sorted sets.
func setDiff[E cmp.Ordered](have, want []E) (add, remove []E) {
	for _, x := range want {
		if _, found := slices.BinarySearch(have, x); !found {
			add = append(add, x)
		}
	}
	for _, x := range have {
		if _, found := slices.BinarySearch(want, x); !found {
			remove = append(remove, x)
		}
	}
	return add, remove
}

// Sync makes the stored policy hold roles, a service's base roles, exactly
// as declared: it is meant to run at every deploy. It reads the stored
// policy, creates the roles it lacks and replaces those that differ, in
// one change (one revision, role.changed events), and returns what it
// did. Sync is idempotent: when every role is already stored as declared
// it writes nothing and creates no revision, whatever the order of roles
// and of their rules. A role changed in the declaration changes only that
// role.
//
// Roles not in roles are left alone: a sync never deletes what the
// service did not declare, such as roles the city made by hand. A service
// that retires one of its own roles says which roles are its own with
// [PruneOwned]. [SyncCatalog] adds permissions to the catalog, and
// [DryRun] reports without writing.
//
// The declaration is validated against the stored policy as a whole
// (names, inherited roles that exist, no cycles, conflict rules) before
// anything is written, in a dry run too; a role id declared twice with
// different content is invalid input. An invalid declaration writes
// nothing and returns an error wrapping [ErrInvalidInput] or
// [ErrNotFound]. Two processes syncing the same roles at once may both
// write, each the same content; the result is the same.
func (ad *Admin) Sync(ctx context.Context, roles []Role, opts ...SyncOption) (SyncReport, error) {
	var o syncOptions
	for _, opt := range opts {
		opt(&o)
	}
	a := ad.a
	if a == nil || a.closed.Load() {
		return SyncReport{}, fmt.Errorf("iam: sync: %w", ErrClosed)
	}
	m, _, err := a.src.LoadPolicy(ctx)
	if err != nil {
		return SyncReport{}, fmt.Errorf("iam: sync: %w", err)
	}
	rep, c, err := planSync(m, roles, o)
	if err != nil || c.IsZero() {
		return rep, err
	}
	c.At = a.opts.clock()
	if _, _, err := rbac.Update(m, c); err != nil {
		return SyncReport{}, fmt.Errorf("iam: sync: %w", err)
	}
	if o.dryRun {
		return rep, nil
	}
	rev, err := ad.applyChange(ctx, c, nil)
	if rev == 0 {
		return SyncReport{}, err
	}
	rep.Revision = rev
	return rep, err // err: written, but the reload failed
}
