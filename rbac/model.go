package rbac

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrNotFound is wrapped by errors that report a missing role, grant or
// membership named by a change.
var ErrNotFound = errors.New("not found")

// NotFoundError names what a change referred to that does not exist.
// errors.Is(err, ErrNotFound) reports true for it.
type NotFoundError struct {
	Kind string // "role", "grant", "membership"
	Name string
}

// Error implements the error interface.
func (e *NotFoundError) Error() string { return fmt.Sprintf("rbac: %s %s not found", e.Kind, e.Name) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Model is the whole policy as data: what a store loads and [Compile] turns
// into a [Policy]. The zero Model is valid and grants nothing.
type Model struct {
	// Permissions lists permissions that exist even if no rule names them
	// exactly, so that wildcard rules cover them. Permissions named by any
	// rule are known without being listed.
	Permissions []Permission
	// Scopes declares the scope tree. Undeclared scopes sit under org.
	Scopes []ScopeNode
	Roles  []Role
	// Members puts users and service accounts into groups and org units.
	Members []Membership
	Grants  []Grant
	// Conflicts are the segregation-of-duties rules: pairs of roles or
	// permissions that no one may hold together (see [ConflictRule]).
	Conflicts []ConflictRule
	// Waivers accept named violations of conflict rules (see [Waiver]).
	Waivers []Waiver
	// Quarantine lists the stored rows a store loaded the model without
	// (see [QuarantinedRow]): they grant nothing, and the subjects they
	// block are denied everything. Stores fill it when they load; it is
	// never written as policy, and a change removes rows from it only
	// with [Change.DeleteRows].
	Quarantine []QuarantinedRow
	// ImplicitScopes opts into granting at scopes the tree does not
	// declare (they then sit directly under org). Without it, [Update]
	// refuses a new grant at an undeclared scope, so that a typo such as
	// dept:buildng is an error rather than a grant that covers nothing.
	ImplicitScopes bool
}

// ScopeNode declares Scope as a child of Parent. A facility usually sits
// under a department; a department or ward under org.
type ScopeNode struct {
	Scope  Scope
	Parent Scope
}

// Role is a named set of rules. A role inherits every rule of the roles in
// Inherits, transitively; a composite role is one whose Inherits span
// modules. Deny rules beat allow rules wherever they meet.
type Role struct {
	ID RoleID
	// Labels holds display names by language ("en", "fr").
	Labels map[string]string
	// Inherits lists the roles whose rules this role includes.
	Inherits []RoleID
	// Composite marks a role built from roles of several modules. It changes
	// nothing in checks; reports show it.
	Composite bool
	// Emergency marks a pre-configured break-glass role. A role that
	// inherits an emergency role, directly or through other roles, is an
	// emergency role too (see [Policy.IsEmergency]). A grant of one must
	// name a window of at most [MaxEmergencyWindow], one person's
	// continuous emergency access is capped at that length (see [Update]),
	// and every check made under it is flagged ([Result.Emergency]) so the
	// facade can audit it.
	Emergency bool
	// Permissions are the allow rules: exact permissions or wildcards.
	Permissions []Permission
	// Deny rules remove permissions whatever grants them.
	Deny []Permission
}

// Membership puts Member (a user or service account) into Group (a group
// or org unit), so that Member holds every grant made to Group.
type Membership struct {
	Member Subject
	Group  Subject
}

// Grant assigns Role to Subject at Scope. A zero NotBefore (valid_from)
// means "already in force"; a zero NotAfter (valid_until) means "until
// revoked". The window is half-open: the grant is in force from NotBefore
// up to, not including, NotAfter.
type Grant struct {
	Subject   Subject   `json:"subject"`
	Role      RoleID    `json:"role"`
	Scope     Scope     `json:"scope"`
	NotBefore time.Time `json:"valid_from,omitzero"`  // RFC 3339; absent when open
	NotAfter  time.Time `json:"valid_until,omitzero"` // RFC 3339; absent when open
	// Reason is free text for reviewers ("acting CBO during leave").
	Reason string `json:"reason,omitempty"`
}

// ActiveAt reports whether g is in force at t. rbac never reads the clock
// itself.
func (g Grant) ActiveAt(t time.Time) bool {
	return (g.NotBefore.IsZero() || !t.Before(g.NotBefore)) &&
		(g.NotAfter.IsZero() || t.Before(g.NotAfter))
}

// Key identifies the grant: a subject holds a role at a scope at most once.
func (g Grant) Key() GrantKey { return GrantKey{Subject: g.Subject, Role: g.Role, Scope: g.Scope} }

// GrantKey identifies a grant.
type GrantKey struct {
	Subject Subject
	Role    RoleID
	Scope   Scope
}

// String returns a human-readable form of k.
func (k GrantKey) String() string {
	return fmt.Sprintf("%s %s@%s", k.Subject, k.Role, k.Scope)
}

// Change is one atomic edit of a Model: a store applies it in one
// transaction, and the facade emits one event for it.
type Change struct {
	// At is the instant the change is made. Rules that depend on the time
	// (a grant whose window has already ended is refused; the 24-hour cap
	// on continuous emergency access counts the windows that have not
	// ended; waivers are judged in force or not) compare with it. The facade sets it from its clock; the
	// stores set it to the current time when it is zero. [Update] with a
	// zero At treats no window as ended.
	At time.Time
	// ExpectGrants are preconditions: each grant must be stored exactly as
	// given (same key, window and reason), or the whole change is refused
	// with a [*ChangedError] (errors.Is(err, ErrChanged)). A store checks
	// them in the transaction that writes the change, so a writer that
	// read a grant can revoke it only if nobody changed it in between.
	ExpectGrants []Grant
	// ExpectWaivers are preconditions like ExpectGrants, for waivers: each
	// must be stored exactly as given (approver, reason and window).
	ExpectWaivers []Waiver
	// ImplicitScopes, when set, turns [Model.ImplicitScopes] on or off.
	ImplicitScopes *bool

	PutRoles       []Role // create or replace, by ID
	DeleteRoles    []RoleID
	Grant          []Grant
	Revoke         []GrantKey
	Join           []Membership
	Leave          []Membership
	PutScopes      []ScopeNode
	AddPermissions []Permission
	// PutConflicts creates or replaces conflict rules, by ID.
	PutConflicts []ConflictRule
	// DeleteConflicts deletes conflict rules, with their waivers.
	DeleteConflicts []string
	// PutWaivers creates or replaces waivers, by rule and subject.
	PutWaivers []Waiver
	// DeleteWaivers deletes waivers.
	DeleteWaivers []WaiverKey
	// DeleteRows deletes quarantined rows (see [QuarantinedRow]) by their
	// store id. An id that is not in [Model.Quarantine] is a
	// [NotFoundError].
	DeleteRows []int64
}

// IsZero reports whether c changes nothing.
func (c Change) IsZero() bool {
	return len(c.PutRoles)+len(c.DeleteRoles)+len(c.Grant)+len(c.Revoke)+len(c.Join)+
		len(c.Leave)+len(c.PutScopes)+len(c.AddPermissions)+
		len(c.PutConflicts)+len(c.DeleteConflicts)+len(c.PutWaivers)+len(c.DeleteWaivers)+
		len(c.DeleteRows) == 0 && c.ImplicitScopes == nil
}

// Clone returns a deep copy of m.
func (m Model) Clone() Model {
	out := Model{
		Permissions: slices.Clone(m.Permissions),
		Scopes:      slices.Clone(m.Scopes),
		Members:     slices.Clone(m.Members),
		Grants:      slices.Clone(m.Grants),
		Roles:       make([]Role, len(m.Roles)),

		ImplicitScopes: m.ImplicitScopes,
	}
	for i, r := range m.Roles {
		out.Roles[i] = r.clone()
	}
	if m.Conflicts != nil {
		out.Conflicts = make([]ConflictRule, len(m.Conflicts))
		for i, r := range m.Conflicts {
			out.Conflicts[i] = r.clone()
		}
	}
	out.Waivers = slices.Clone(m.Waivers)
	if m.Quarantine != nil {
		out.Quarantine = make([]QuarantinedRow, len(m.Quarantine))
		for i, q := range m.Quarantine {
			out.Quarantine[i] = q.clone()
		}
	}
	return out
}

func (r Role) clone() Role {
	r.Inherits = slices.Clone(r.Inherits)
	r.Permissions = slices.Clone(r.Permissions)
	r.Deny = slices.Clone(r.Deny)
	if r.Labels != nil {
		l := make(map[string]string, len(r.Labels))
		for k, v := range r.Labels {
			l[k] = v
		}
		r.Labels = l
	}
	return r
}

// Apply returns a copy of m with c applied. It reports a revoke, leave or
// delete of something that does not exist as a [NotFoundError], and leaves
// full validation to [Compile], which a store runs on the result before it
// writes anything.
func (m Model) Apply(c Change) (Model, error) {
	if err := m.expect(c.ExpectGrants); err != nil {
		return Model{}, err
	}
	if err := m.expectWaivers(c.ExpectWaivers); err != nil {
		return Model{}, err
	}
	out := m.Clone()
	if c.ImplicitScopes != nil {
		out.ImplicitScopes = *c.ImplicitScopes
	}
	for _, r := range c.PutRoles {
		if i := slices.IndexFunc(out.Roles, func(x Role) bool { return x.ID == r.ID }); i >= 0 {
			out.Roles[i] = r.clone()
		} else {
			out.Roles = append(out.Roles, r.clone())
		}
	}
	for _, id := range c.DeleteRoles {
		i := slices.IndexFunc(out.Roles, func(x Role) bool { return x.ID == id })
		if i < 0 {
			return Model{}, &NotFoundError{Kind: "role", Name: string(id)}
		}
		out.Roles = slices.Delete(out.Roles, i, i+1)
	}
	for _, k := range c.Revoke {
		i := slices.IndexFunc(out.Grants, func(g Grant) bool { return g.Key() == k })
		if i < 0 {
			return Model{}, &NotFoundError{Kind: "grant", Name: k.String()}
		}
		out.Grants = slices.Delete(out.Grants, i, i+1)
	}
	out.Grants = append(out.Grants, c.Grant...)
	for _, ms := range c.Leave {
		i := slices.Index(out.Members, ms)
		if i < 0 {
			return Model{}, &NotFoundError{Kind: "membership", Name: string(ms.Member) + " in " + string(ms.Group)}
		}
		out.Members = slices.Delete(out.Members, i, i+1)
	}
	for _, ms := range c.Join {
		if !slices.Contains(out.Members, ms) {
			out.Members = append(out.Members, ms)
		}
	}
	for _, s := range c.PutScopes {
		if i := slices.IndexFunc(out.Scopes, func(x ScopeNode) bool { return x.Scope == s.Scope }); i >= 0 {
			out.Scopes[i] = s
		} else {
			out.Scopes = append(out.Scopes, s)
		}
	}
	for _, p := range c.AddPermissions {
		if !slices.Contains(out.Permissions, p) {
			out.Permissions = append(out.Permissions, p)
		}
	}
	if err := out.applyConflicts(c); err != nil {
		return Model{}, err
	}
	if err := out.deleteRows(c.DeleteRows); err != nil {
		return Model{}, err
	}
	if err := checkReferences(m, out, c); err != nil {
		return Model{}, err
	}
	return out, nil
}

// Update applies c to m and compiles the result, so that a store can
// validate a change completely before it writes anything. It returns the new
// model and its compiled policy. An empty change is an [*InvalidError].
//
// Update also enforces segregation of duties ([CheckChange]): a change
// after which someone holds both sides of a conflict rule in a way they did
// not before — a new violation, or an existing one made longer or wider,
// however the change is composed — and that no waiver in force at c.At
// permits, is refused with a [*ConflictError] (errors.Is(err, ErrConflict))
// naming the rule and both paths. Violations that already existed — for
// example when a rule is added while people hold both of its roles — are
// accepted exactly as they are and reported by [Policy.Violations].
//
// Update also applies the rules for writing grants, at the instant c.At:
//
//   - a new grant whose window has already ended is refused;
//   - a new grant at a scope the tree does not declare is refused, unless
//     the model opts into [Model.ImplicitScopes];
//   - a change that turns a role into an emergency role, or one out of
//     it (the Emergency flag, or an inherited role that is or stops being
//     one), while grants of it made before the change have not ended is
//     refused with an [*EmergencyError];
//   - one person's continuous emergency access is capped at
//     [MaxEmergencyWindow], however it is assembled: back to back or
//     overlapping grants, through a user, a group and an org unit, at
//     nested scopes, in one change or several. A person's emergency
//     windows are those of every grant of an emergency role reaching a
//     user or service account — their own and their groups' and org
//     units' grants, at any scope. After the change, the windows that
//     have not ended at c.At must lie within one span of at most
//     MaxEmergencyWindow; and while the person has emergency access in
//     force at c.At, no change may make their access end later — a window
//     in force cannot be extended, replaced by a longer one, or followed
//     by another booked in advance, with or without a gap. Going past the
//     cap takes a new activation once the access in force has ended. A
//     refusal is an [*EmergencyError] (errors.Is(err, ErrEmergency)); a
//     change that only shortens a span that was already over the cap
//     (written by others) is accepted.
//
// Preconditions in c.ExpectGrants are checked against m first.
func Update(m Model, c Change) (Model, *Policy, error) {
	if c.IsZero() {
		return Model{}, nil, invalid("change", "", "empty change")
	}
	next, err := m.Apply(c)
	if err != nil {
		return Model{}, nil, err
	}
	p, err := Compile(next)
	if err != nil {
		return Model{}, nil, err
	}
	if err := checkWrite(m, next, c); err != nil {
		return Model{}, nil, err
	}
	if err := CheckChange(m, p, c); err != nil {
		return Model{}, nil, err
	}
	return next, p, nil
}
