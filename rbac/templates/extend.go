package templates

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/civic-platform/security/rbac"
)

// A Registration is a permission a service adds to the catalog with
// [Set.Extend].
type Registration struct {
	// Permission is concrete (no wildcard) and follows the grammar:
	// module.entity.action, or module.entity.field.action for a field.
	Permission rbac.Permission `json:"permission"`
	// PII marks a permission that discloses personal information (an
	// export of applicants, say). A field-level permission is treated as
	// PII whatever PII says; see [IsPII].
	PII bool `json:"pii,omitempty"`
}

// Perm registers x as an ordinary permission (PII if it is field-level).
func Perm(x rbac.Permission) Registration { return Registration{Permission: x} }

// PII registers x as a permission that discloses personal information.
func PII(x rbac.Permission) Registration { return Registration{Permission: x, PII: true} }

// IsPII reports whether x, registered with flag pii, is treated as
// disclosing personal information: when pii is set, or when x is a
// field-level permission (four segments, module.entity.field.action, such
// as permits.applicant.sin.view). A field permission exists to guard one
// field, and the fields worth guarding are personal more often than not,
// so the safe default is to assume it; a false alarm costs a reviewer a
// look, a missed one leaks SINs.
func IsPII(x rbac.Permission, pii bool) bool {
	return pii || strings.Count(string(x), ".") == 3
}

// ExtendReport is what [Set.Extend] added and what a reviewer should look
// at before the new set reaches production.
type ExtendReport struct {
	// Added lists the registered permissions, sorted.
	Added []rbac.Permission `json:"added"`
	// Exposures lists each template whose wildcard allow rule grants a
	// newly registered PII permission (one the template does not also
	// deny), sorted by permission, then template. A role instantiated
	// from that template grants the permission unless an edit removes the
	// wildcard or denies the permission ([Deny]).
	Exposures []Exposure `json:"exposures,omitempty"`
}

// An Exposure is a template whose wildcard covers a PII permission.
type Exposure struct {
	Permission rbac.Permission   `json:"permission"` // the newly registered PII permission
	Template   rbac.RoleID       `json:"template"`
	Rules      []rbac.Permission `json:"rules"` // the template's allow rules that cover it
}

// String says what e means, for a log line or a deploy report.
func (e Exposure) String() string {
	return fmt.Sprintf("template %s grants PII permission %s through %s", e.Template, e.Permission, joinPerms(e.Rules))
}

func joinPerms(ps []rbac.Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// Extend returns a new Set whose catalog also holds regs, the
// permissions a service defines for itself, so that roles instantiated
// from the set may name them (Instantiate with [Add]) and the model's
// catalog ([Set.Permissions]) lists them for wildcards to cover. s is not
// changed. Extending is all or nothing: a registration that is malformed
// (upper case, look-alike Unicode, a wildcard, the wrong number of
// segments: the grammar of [rbac.Permission.Validate]), already in the
// catalog, or listed twice refuses the whole call with an error wrapping
// [rbac.ErrInvalidInput], and no Set is returned.
//
// The report lists the permissions added and, for each one that is PII
// ([IsPII]), every template whose wildcard allow rule now grants it: a
// shipped "permits.*" grants a newly registered permits.applicant.sin.view
// to every clerk instantiated from it. Whether a template grants a
// permission is decided by rbac (a template's rules compiled as a role),
// so deny rules count: a template that also denies the permission is not
// reported.
func (s *Set) Extend(regs ...Registration) (*Set, ExtendReport, error) {
	seen := make(map[rbac.Permission]bool, len(regs))
	for _, r := range regs {
		if err := r.Permission.Validate(); err != nil {
			return nil, ExtendReport{}, fmt.Errorf("templates: extend: %w", err)
		}
		if seen[r.Permission] {
			return nil, ExtendReport{}, fmt.Errorf("templates: extend: permission %q registered twice: %w", r.Permission, rbac.ErrInvalidInput)
		}
		if _, dup := s.known[r.Permission]; dup {
			return nil, ExtendReport{}, fmt.Errorf("templates: extend: permission %q is already in the catalog: %w", r.Permission, rbac.ErrInvalidInput)
		}
		seen[r.Permission] = true
	}
	out := s.clone()
	var rep ExtendReport
	for _, r := range regs {
		out.known[r.Permission] = struct{}{}
		out.catalog = append(out.catalog, r.Permission)
		if r.PII {
			out.pii[r.Permission] = true
		}
		rep.Added = append(rep.Added, r.Permission)
	}
	slices.Sort(out.catalog)
	slices.Sort(rep.Added)
	exp, err := out.exposures(regs)
	if err != nil {
		return nil, ExtendReport{}, err
	}
	rep.Exposures = exp
	return out, rep, nil
}

// exposures asks rbac which templates grant each PII registration.
func (s *Set) exposures(regs []Registration) ([]Exposure, error) {
	var pii []rbac.Permission
	for _, r := range regs {
		if IsPII(r.Permission, r.PII) {
			pii = append(pii, r.Permission)
		}
	}
	if len(pii) == 0 {
		return nil, nil
	}
	slices.Sort(pii)
	p, err := rbac.Compile(rbac.Model{Roles: s.Roles(), Permissions: s.Permissions()})
	if err != nil {
		return nil, fmt.Errorf("templates: extend: %w", err)
	}
	var out []Exposure
	for _, x := range pii {
		for _, id := range s.IDs() {
			if allows, denies := p.RoleHolds(id, x); !allows || denies {
				continue
			}
			var rules []rbac.Permission
			for _, rule := range s.byID[id].Permissions {
				if rule.Covers(x) {
					rules = append(rules, rule)
				}
			}
			out = append(out, Exposure{Permission: x, Template: id, Rules: rules})
		}
	}
	return out, nil
}

// PII reports whether x is in the catalog and treated as disclosing
// personal information: registered with [PII], or field-level ([IsPII]).
func (s *Set) PII(x rbac.Permission) bool {
	if _, ok := s.known[x]; !ok {
		return false
	}
	return IsPII(x, s.pii[x])
}

// clone returns a copy of s that Extend may change. Templates are values
// and are never changed in place, so the map of them is copied shallowly.
func (s *Set) clone() *Set {
	return &Set{byID: maps.Clone(s.byID), catalog: slices.Clone(s.catalog), known: maps.Clone(s.known), pii: maps.Clone(s.pii)}
}
