package rbac

import (
	"errors"
	"fmt"
	"strings"

	"github.com/civic-platform/security/internal/perm"
)

// ErrInvalidInput is wrapped by every error that reports malformed input: a
// bad permission, scope, subject or role name, or an inconsistent model.
var ErrInvalidInput = errors.New("invalid input")

// InvalidError describes malformed input. errors.Is(err, ErrInvalidInput)
// reports true for it. Value is quoted and truncated, never the raw input.
type InvalidError struct {
	Where  string // where in a model the input was found ("grant", "scope tree"), if anywhere
	Kind   string // "permission", "scope", "subject", "role", "grant", "membership", "change"
	Value  string // quoted, truncated
	Reason string
}

// Error implements the error interface.
func (e *InvalidError) Error() string {
	where := "rbac: "
	if e.Where != "" {
		where += e.Where + ": "
	}
	if e.Value == "" {
		return fmt.Sprintf("%sinvalid %s: %s", where, e.Kind, e.Reason)
	}
	return fmt.Sprintf("%sinvalid %s %s: %s", where, e.Kind, e.Value, e.Reason)
}

// within records where in a model an invalid name was found.
func within(where string, err error) error {
	if ie, ok := err.(*InvalidError); ok {
		c := *ie
		c.Where = where
		return &c
	}
	return fmt.Errorf("rbac: %s: %w", where, err)
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalidInput }

func invalid(kind, value, reason string) error {
	return &InvalidError{Kind: kind, Value: perm.Quote(value), Reason: reason}
}

// CycleError reports a role inheritance cycle. Path lists the roles around
// the cycle, ending where it started. It wraps [ErrInvalidInput].
type CycleError struct {
	Path []RoleID
}

// Error implements the error interface.
func (e *CycleError) Error() string {
	parts := make([]string, len(e.Path))
	for i, r := range e.Path {
		parts[i] = string(r)
	}
	return "rbac: role inheritance cycle: " + strings.Join(parts, " -> ")
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *CycleError) Is(target error) bool { return target == ErrInvalidInput }

// Permission is module.entity.action or module.entity.field.action, or, in a
// role's rules only, a wildcard such as permits.*.
type Permission string

// Validate reports whether p is a well-formed concrete permission (no
// wildcard), as a request must be.
func (p Permission) Validate() error {
	if _, err := perm.Parse(string(p), false); err != nil {
		return invalid("permission", string(p), err.(*perm.Error).Reason)
	}
	return nil
}

// ValidatePattern reports whether p is a well-formed permission or wildcard
// pattern, as a role's rule may be.
func (p Permission) ValidatePattern() error {
	if _, err := perm.Parse(string(p), true); err != nil {
		return invalid("permission", string(p), err.(*perm.Error).Reason)
	}
	return nil
}

// IsWildcard reports whether p ends in a wildcard segment.
func (p Permission) IsWildcard() bool { return strings.HasSuffix(string(p), ".*") }

// Covers reports whether the rule p (exact or wildcard) covers the concrete
// permission q.
func (p Permission) Covers(q Permission) bool {
	if p.IsWildcard() {
		return strings.HasPrefix(string(q), string(p[:len(p)-1]))
	}
	return p == q
}

// maxIDLen bounds every identifier (role ids, subject and scope ids).
const maxIDLen = 128

// validID checks the id part of a role, subject or scope: lower-case letters,
// digits and _ - . @, starting with a letter or digit. Commas, quotes,
// whitespace, colons, NUL and other separators used by Casbin's formats are
// refused.
func validID(s string) string {
	if s == "" {
		return "empty id"
	}
	if len(s) > maxIDLen {
		return fmt.Sprintf("id longer than %d bytes", maxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-' || c == '.' || c == '@') && i > 0:
		case c >= 'A' && c <= 'Z':
			return "upper-case letter in id"
		default:
			return "character not allowed in id (use a-z, 0-9, _ - . @)"
		}
	}
	return ""
}

// RoleID names a role: lower-case letters, digits, _ - . and @.
type RoleID string

// Validate reports whether r is a well-formed role id.
func (r RoleID) Validate() error {
	if why := validID(string(r)); why != "" {
		return invalid("role", string(r), why)
	}
	return nil
}

// Subject is who asks or who holds a grant: user:<id>, svc:<id>, group:<id>
// or unit:<id>.
type Subject string

// SubjectKind is the part of a subject before the colon.
type SubjectKind string

// The subject kinds.
const (
	User    SubjectKind = "user"
	Service SubjectKind = "svc"
	Group   SubjectKind = "group"
	Unit    SubjectKind = "unit"
)

// Kind returns the subject's kind, or "" if it has none.
func (s Subject) Kind() SubjectKind {
	k, _, ok := strings.Cut(string(s), ":")
	if !ok {
		return ""
	}
	return SubjectKind(k)
}

// Validate reports whether s is a well-formed subject.
func (s Subject) Validate() error {
	if s == "" {
		return invalid("subject", "", "empty subject")
	}
	k, id, ok := strings.Cut(string(s), ":")
	if !ok {
		return invalid("subject", string(s), "want kind:id with kind user, svc, group or unit")
	}
	switch SubjectKind(k) {
	case User, Service, Group, Unit:
	case "role":
		return invalid("subject", string(s), "a role is not a subject; assign the role to a user, group or unit")
	default:
		return invalid("subject", string(s), "unknown subject kind (want user, svc, group or unit)")
	}
	if why := validID(id); why != "" {
		return invalid("subject", string(s), why)
	}
	return nil
}

// IsPrincipal reports whether s can make requests (a user or service
// account), as opposed to a container of principals (a group or unit).
func (s Subject) IsPrincipal() bool { k := s.Kind(); return k == User || k == Service }

// Scope is where a grant applies: org, dept:<id>, ward:<id> or facility:<id>.
type Scope string

// OrgScope is the whole organisation; a grant at org covers every scope.
const OrgScope Scope = "org"

// ScopeKind is the part of a scope before the colon, or "org".
type ScopeKind string

// The scope kinds.
const (
	Org      ScopeKind = "org"
	Dept     ScopeKind = "dept"
	Ward     ScopeKind = "ward"
	Facility ScopeKind = "facility"
)

// Kind returns the scope's kind.
func (s Scope) Kind() ScopeKind {
	if s == OrgScope {
		return Org
	}
	k, _, _ := strings.Cut(string(s), ":")
	return ScopeKind(k)
}

// ID returns the part after the colon ("" for org).
func (s Scope) ID() string {
	_, id, _ := strings.Cut(string(s), ":")
	return id
}

// Validate reports whether s is a well-formed scope.
func (s Scope) Validate() error {
	if s == OrgScope {
		return nil
	}
	if s == "" {
		return invalid("scope", "", "empty scope")
	}
	k, id, ok := strings.Cut(string(s), ":")
	if !ok {
		return invalid("scope", string(s), "want org, dept:<id>, ward:<id> or facility:<id>")
	}
	switch ScopeKind(k) {
	case Dept, Ward, Facility:
	default:
		return invalid("scope", string(s), "unknown scope kind (want org, dept, ward or facility)")
	}
	if why := validID(id); why != "" {
		return invalid("scope", string(s), why)
	}
	return nil
}
