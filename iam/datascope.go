package iam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/internal/perm"
	"github.com/civic-platform/security/rbac"
)

// A DataRule narrows what a role's grants show for a permission to the
// records that satisfy an [abac] rule, such as
//
//	DataRule{Role: "caseworker", Permission: "social.case.read", Rule: "owner = subject.id"}
//
// Data rules are configuration that a city loads from files, like masking
// rules; they are not policy rows and do not change with [Admin.Apply].
type DataRule struct {
	// Role is the role the rule is attached to. It applies to grants of
	// this role and of every role that inherits it.
	Role RoleID
	// Permission is the permission the rule narrows: exact
	// ("social.case.read") or a wildcard ("social.*").
	Permission Permission
	// Rule is the rule text, parsed by [abac.ParseRule]. It may name the
	// subject's attributes ("subject.ward") and always may use subject.id,
	// which is the whole subject, kind and id ("user:alice").
	Rule string
}

// AttributeSource gives a subject's attributes for binding data rules
// (subject.ward, subject.departments, ...). Attributes is called on the
// request path, concurrently, once per [Authorizer.Filter] or
// [Authorizer.CheckRecord] call that needs attributes; cache in the source if
// lookups are slow. It must not modify a map it has returned.
//
// A subject without some attribute gets a nil or partial map: a rule naming a
// missing attribute then admits nothing for that subject. An error makes the
// call fail closed. An attribute named "id" is ignored: subject.id is always
// the subject itself.
type AttributeSource interface {
	Attributes(ctx context.Context, sub Subject) (abac.Attributes, error)
}

// AttributesFunc adapts an ordinary function to an [AttributeSource].
type AttributesFunc func(ctx context.Context, sub Subject) (abac.Attributes, error)

// Attributes calls f(ctx, sub).
func (f AttributesFunc) Attributes(ctx context.Context, sub Subject) (abac.Attributes, error) {
	return f(ctx, sub)
}

// ScopeFields names the logical record fields that hold a record's scope:
// a grant at dept:roads admits records whose Dept field is "roads". The zero
// ScopeFields means the defaults, and so does each empty field; [NoColumn]
// says that the records have no field for that kind of scope.
//
// Scope ids are strings, so these fields must be text in the database (text,
// varchar, or an enum compared as text): a value of another type places the
// record nowhere, like NULL.
type ScopeFields struct {
	Dept     string // default "department"
	Ward     string // default "ward"
	Facility string // default "facility"
}

// Default names of the scope fields.
const (
	DefaultDeptField     = "department"
	DefaultWardField     = "ward"
	DefaultFacilityField = "facility"
)

// NoColumn, as a field of [ScopeFields], declares that the records have no
// field for that kind of scope (a table of permits with no facility column).
// The records are then at no scope of that kind: a grant at a scope of that
// kind admits only the records placed beneath it through another field (a
// ward under the facility, if the scope tree has one), usually none, and
// likewise a deny there removes only those (a record with no ward is not
// taken to lie at the denied facility).
// Filters never name the field, so queries do not fail for lack of a column.
const NoColumn = "-"

// DataScopes is the data-scope configuration given to [NewScoper]. The zero
// DataScopes is valid: no rules, no attributes beyond subject.id, default
// scope fields; grants then restrict records by scope alone.
type DataScopes struct {
	Rules []DataRule
	// Attributes gives subjects' attributes. nil means none but subject.id.
	Attributes AttributeSource
	// AttributeNames, when not nil, lists every attribute the source
	// gives; a rule naming another one (a typo such as subject.wrad) is
	// refused. subject.id is always known.
	AttributeNames []string
	Fields         ScopeFields
}

// DataRuleError reports a data rule that was refused: a malformed role or
// permission, rule text that does not parse, an attribute not in
// [DataScopes.AttributeNames], or (when the Scoper first meets a policy) a
// role or permission the policy does not know. errors.Is(err,
// ErrInvalidInput) reports true for it, and the underlying error (such as an
// *abac.ParseError, for which errors.Is(err, abac.ErrInvalidRule) holds) is
// unwrapped.
type DataRuleError struct {
	Index      int // position in DataScopes.Rules
	Role       RoleID
	Permission Permission
	Err        error
}

// Error implements the error interface.
func (e *DataRuleError) Error() string {
	return fmt.Sprintf("iam: data rule %d (role %s, permission %s): %v",
		e.Index, perm.Quote(string(e.Role)), perm.Quote(string(e.Permission)), e.Err)
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *DataRuleError) Is(target error) bool { return target == ErrInvalidInput }

// Unwrap returns the underlying error.
func (e *DataRuleError) Unwrap() error { return e.Err }

// A Scoper holds parsed, validated data-scope configuration. Create it once
// with [NewScoper], check it at start-up with [Scoper.Verify], and pass it to
// [Authorizer.Filter] and [Authorizer.CheckRecord].
//
// Data rules are configuration rather than policy rows, so they live here and
// not in the store, and a Scoper is a value the caller passes rather than an
// option of [New]: one Authorizer can serve several Scopers (one per kind of
// record, with its own scope fields), and reloading rule files means building
// a new Scoper, with no change to the Authorizer.
//
// The rules are checked against the first policy the Scoper meets (at
// [Scoper.Verify], or else at its first use): a rule naming a role
// the policy does not declare or a permission it does not know (a typo that
// a wildcard rule would otherwise cover, leaving the grant unrestricted) is
// refused, and the Scoper then refuses every call with that
// [*DataRuleError]. A rule restricts the grants of its role and of every
// role that inherits it for the permissions it covers; where its own role
// does not hold the permission (or no longer does, after a policy change),
// it admits nothing through it: a rule never turns into "no restriction".
//
// A Scoper is safe for concurrent use. It keeps an index of the compiled
// policy's scope tree, rebuilt once after each policy change of the
// Authorizer it is used with; use one Scoper per Authorizer, since
// alternating between two Authorizers rebuilds the index each time.
type Scoper struct {
	rules     []dataRule
	byRole    map[RoleID][]int // indices into rules
	fields    [numKinds]string // by kindIndex; "" when the records have no such field
	allFields []string
	attrs     AttributeSource

	mu      sync.Mutex // serializes index builds and the first validation
	checked bool       // under mu: the rules were checked against a policy
	refusal error      // under mu, fixed once checked
	idx     atomic.Pointer[grantIndex]
}

type dataRule struct {
	index int
	role  RoleID
	perm  Permission
	rule  abac.Rule
}

// The scope kinds below org, as indices into per-kind arrays.
const (
	kindDept = iota
	kindWard
	kindFacility
	numKinds
)

// kindIndex returns the index of a scope kind, -1 for org (or anything
// else).
func kindIndex(k rbac.ScopeKind) int {
	switch k {
	case rbac.Dept:
		return kindDept
	case rbac.Ward:
		return kindWard
	case rbac.Facility:
		return kindFacility
	}
	return -1
}

// NewScoper parses and validates every rule and scope field in cfg up front,
// so that a bad configuration fails at start-up rather than on a request.
// Errors wrap [ErrInvalidInput]: a [*DataRuleError] for a rule, an
// [*rbac.InvalidError] for a scope field.
//
// NewScoper has no policy to check the rules' roles and permissions
// against; the Scoper checks them when it first meets one (see [Scoper]).
// [Scoper.Verify] checks them at once.
func NewScoper(cfg DataScopes) (*Scoper, error) {
	sc := &Scoper{byRole: map[RoleID][]int{}, attrs: cfg.Attributes}
	seen := map[string]bool{}
	for i, f := range [numKinds]struct{ name, def string }{
		kindDept:     {cfg.Fields.Dept, DefaultDeptField},
		kindWard:     {cfg.Fields.Ward, DefaultWardField},
		kindFacility: {cfg.Fields.Facility, DefaultFacilityField},
	} {
		name := f.name
		switch name {
		case NoColumn:
			continue
		case "":
			name = f.def
		}
		// A field name is whatever the rule grammar accepts as one.
		if _, err := abac.ParseRule(name + " is null"); err != nil {
			return nil, fmt.Errorf("iam: data scopes: %w", &rbac.InvalidError{Kind: "scope field", Value: perm.Quote(name), Reason: "not a valid field name"})
		}
		if seen[name] {
			return nil, fmt.Errorf("iam: data scopes: %w", &rbac.InvalidError{Kind: "scope field", Value: perm.Quote(name), Reason: "names two kinds of scope"})
		}
		seen[name] = true
		sc.fields[i] = name
	}
	var names map[string]bool
	if cfg.AttributeNames != nil {
		names = map[string]bool{"id": true}
		for _, n := range cfg.AttributeNames {
			names[n] = true
		}
	}
	var errs []error
	for i, r := range cfg.Rules {
		fail := func(err error) {
			errs = append(errs, &DataRuleError{Index: i, Role: r.Role, Permission: r.Permission, Err: err})
		}
		if err := r.Role.Validate(); err != nil {
			fail(err)
			continue
		}
		if err := r.Permission.ValidatePattern(); err != nil {
			fail(err)
			continue
		}
		rule, err := abac.ParseRule(r.Rule)
		if err != nil {
			fail(err)
			continue
		}
		if names != nil {
			var unknown []string
			for _, a := range rule.Attributes() {
				if !names[a] {
					unknown = append(unknown, "subject."+a)
				}
			}
			if len(unknown) > 0 {
				fail(&rbac.InvalidError{Kind: "attribute", Value: perm.Quote(unknown[0]), Reason: "not among the attributes the source gives (DataScopes.AttributeNames)"})
				continue
			}
		}
		sc.byRole[r.Role] = append(sc.byRole[r.Role], len(sc.rules))
		sc.rules = append(sc.rules, dataRule{index: i, role: r.Role, perm: r.Permission, rule: rule})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, f := range sc.fields {
		if f != "" {
			sc.allFields = append(sc.allFields, f)
		}
	}
	for _, r := range sc.rules {
		for _, f := range r.rule.Fields() {
			if !seen[f] {
				seen[f] = true
				sc.allFields = append(sc.allFields, f)
			}
		}
	}
	slices.Sort(sc.allFields)
	return sc, nil
}

// check returns the rules that p does not support, joined, or nil.
func (sc *Scoper) check(p *rbac.Policy) error {
	var errs []error
	for _, r := range sc.rules {
		fail := func(reason string) {
			errs = append(errs, &DataRuleError{Index: r.index, Role: r.role, Permission: r.perm,
				Err: &rbac.InvalidError{Where: "data rule", Kind: "data rule", Value: perm.Quote(r.rule.String()), Reason: reason}})
		}
		if !p.HasRole(r.role) {
			fail("the policy declares no role " + perm.Quote(string(r.role)))
			continue
		}
		if !r.perm.IsWildcard() {
			if !p.KnowsPermission(r.perm) {
				fail("the policy knows no permission " + perm.Quote(string(r.perm)))
			}
			continue
		}
		if len(p.Covered(r.perm)) == 0 {
			fail("the wildcard covers no permission the policy knows")
		}
	}
	return errors.Join(errs...)
}

// Fields returns every record field a filter from this Scoper may name: the
// scope fields (except those declared [NoColumn]) and the fields the rules
// read, sorted. Check at start-up that the column allow-list given to
// [abac.Filter.SQL] or gormscope.Scope maps each of them; a field without a
// column makes the query fail, never wider.
func (sc *Scoper) Fields() []string { return slices.Clone(sc.allFields) }
