package rbac

import (
	"errors"
	"fmt"
	"slices"
)

// ErrExists is wrapped by errors refusing a change that adds what the
// model already holds: a grant whose key (subject, role, scope) is
// already granted, whatever its window. A change that revokes the grant
// and grants it again, in that one change, replaces it.
var ErrExists = errors.New("already exists")

// ExistsError reports something a change adds that is already there.
// errors.Is(err, ErrExists) reports true for it, and for no other
// sentinel.
type ExistsError struct {
	Kind string // "grant"
	Name string
}

// Error implements the error interface.
func (e *ExistsError) Error() string {
	return fmt.Sprintf("rbac: %s %s already exists", e.Kind, e.Name)
}

// Is makes errors.Is(err, ErrExists) true.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// checkReferences reports what a change leaves the model naming that the
// model does not hold, each with one sentinel: a grant already held
// ([ErrExists]); a grant, inheritance, conflict rule or waiver naming a
// role or rule that does not exist ([ErrNotFound]); a role deleted while
// a grant or another role still names it ([ErrInvalidInput]). before is
// the model the change starts from, after the model with c applied.
func checkReferences(before, after Model, c Change) error {
	roles := make(map[RoleID]bool, len(after.Roles))
	for _, r := range after.Roles {
		roles[r.ID] = true
	}
	if len(c.Grant) > 0 {
		held := make(map[GrantKey]bool, len(before.Grants))
		for _, g := range before.Grants {
			held[g.Key()] = true
		}
		for _, k := range c.Revoke {
			delete(held, k)
		}
		for _, g := range c.Grant {
			if held[g.Key()] && g.Subject.Validate() == nil {
				return &ExistsError{Kind: "grant", Name: g.Key().String()}
			}
		}
	}
	for _, id := range c.DeleteRoles {
		if roles[id] {
			continue // deleted and put again
		}
		for _, g := range after.Grants {
			if g.Role == id {
				return invalid("change", string(id), "deletes a role still granted to "+string(g.Subject)+"; revoke its grants first")
			}
		}
		for _, r := range after.Roles {
			if slices.Contains(r.Inherits, id) {
				return invalid("change", string(id), "deletes a role still inherited by "+string(r.ID))
			}
		}
		for _, x := range after.Conflicts {
			if x.Roles[0] == id || x.Roles[1] == id {
				return invalid("change", string(id), "deletes a role still named by conflict rule "+x.ID)
			}
		}
	}
	// Names that are malformed are left to Compile, which reports them as
	// invalid input: existence is asked only of well-formed names.
	for _, g := range c.Grant {
		if g.Role.Validate() == nil && !roles[g.Role] {
			return &NotFoundError{Kind: "role", Name: string(g.Role)}
		}
	}
	for _, r := range c.PutRoles {
		for _, parent := range r.Inherits {
			if parent.Validate() == nil && !roles[parent] {
				return &NotFoundError{Kind: "role", Name: string(parent)}
			}
		}
	}
	for _, x := range c.PutConflicts {
		if x.IsRoleRule() {
			for _, id := range x.Roles {
				if id.Validate() == nil && !roles[id] {
					return &NotFoundError{Kind: "role", Name: string(id)}
				}
			}
		}
	}
	if len(c.PutWaivers) > 0 {
		rules := make(map[string]bool, len(after.Conflicts))
		for _, x := range after.Conflicts {
			rules[x.ID] = true
		}
		for _, w := range c.PutWaivers {
			if RoleID(w.Rule).Validate() == nil && !rules[w.Rule] {
				return &NotFoundError{Kind: "conflict rule", Name: w.Rule}
			}
		}
	}
	return nil
}
