package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"

	"github.com/civic-platform/security/rbac"
)

//go:embed data
var embedded embed.FS

// Template is a pre-built role for a municipal position.
type Template struct {
	// ID is the template's name and the default role id ("cbo").
	ID rbac.RoleID `json:"id"`
	// Labels holds display names by language: at least "en" and "fr".
	Labels map[string]string `json:"labels"`
	// Description says what the position does, for reviewers.
	Description string `json:"description"`
	// Permissions and Deny are the role's rules; wildcards allowed.
	Permissions []rbac.Permission `json:"permissions"`
	Deny        []rbac.Permission `json:"deny,omitempty"`
	// Composite marks a role spanning modules; Emergency a break-glass role
	// that is granted only for a bounded window.
	Composite bool `json:"composite,omitempty"`
	Emergency bool `json:"emergency,omitempty"`
}

// Set is a validated collection of templates and the permission catalog
// they draw on.
type Set struct {
	byID    map[rbac.RoleID]Template
	catalog []rbac.Permission
	known   map[rbac.Permission]struct{}
	pii     map[rbac.Permission]bool // registered with PII set (Extend)
}

// ErrUnknownTemplate is wrapped by the error [Set.Instantiate] returns for
// a template the set does not have; it is rbac.ErrNotFound.
var ErrUnknownTemplate = rbac.ErrNotFound

// UnknownPermissionError reports a template or instantiated role that names
// a permission the catalog does not have (or a wildcard covering none of
// it), or a malformed one. errors.Is(err, rbac.ErrInvalidInput) is true.
type UnknownPermissionError struct {
	Template   string
	Permission rbac.Permission
	Reason     string
}

// Error implements the error interface.
func (e *UnknownPermissionError) Error() string {
	return fmt.Sprintf("templates: %s: permission %q: %s", e.Template, e.Permission, e.Reason)
}

// Is makes errors.Is(err, rbac.ErrInvalidInput) true.
func (e *UnknownPermissionError) Is(target error) bool { return target == rbac.ErrInvalidInput }

// Default returns the templates shipped with the module.
func Default() (*Set, error) {
	sub, err := fs.Sub(embedded, "data")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return Load(sub)
}

// Load reads a template set from fsys: catalog.json ({"permissions":
// [...]}) and one roles/<id>.json per template, and validates every
// template against the catalog. Cities with their own positions ship their
// own directory in the same layout.
func Load(fsys fs.FS) (*Set, error) {
	raw, err := fs.ReadFile(fsys, "catalog.json")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	var cat struct {
		Permissions []rbac.Permission `json:"permissions"`
	}
	if err := decode(raw, &cat); err != nil {
		return nil, fmt.Errorf("templates: catalog.json: %w", err)
	}
	s := &Set{byID: map[rbac.RoleID]Template{}, known: map[rbac.Permission]struct{}{}, pii: map[rbac.Permission]bool{}}
	for _, x := range cat.Permissions {
		if err := x.Validate(); err != nil {
			return nil, fmt.Errorf("templates: catalog.json: %w", err)
		}
		if _, dup := s.known[x]; !dup {
			s.known[x] = struct{}{}
			s.catalog = append(s.catalog, x)
		}
	}
	sort.Slice(s.catalog, func(i, j int) bool { return s.catalog[i] < s.catalog[j] })
	names, err := fs.Glob(fsys, "roles/*.json")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		var t Template
		if err := decode(raw, &t); err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		if want := rbac.RoleID(path.Base(name[:len(name)-len(".json")])); t.ID != want {
			return nil, fmt.Errorf("templates: %s: id %q does not match the file name: %w", name, t.ID, rbac.ErrInvalidInput)
		}
		if err := s.validate(string(t.ID), t.ID, t.Labels, t.Permissions, t.Deny); err != nil {
			return nil, err
		}
		s.byID[t.ID] = t
	}
	if len(s.byID) == 0 {
		return nil, fmt.Errorf("templates: no roles/*.json in the set: %w", rbac.ErrInvalidInput)
	}
	return s, nil
}

func decode(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", rbac.ErrInvalidInput, err)
	}
	return nil
}

// validate checks a template or role: its id, both labels, and every rule
// against the catalog.
func (s *Set) validate(name string, id rbac.RoleID, labels map[string]string, allow, deny []rbac.Permission) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("templates: %s: %w", name, err)
	}
	for _, lang := range []string{"en", "fr"} {
		if labels[lang] == "" {
			return fmt.Errorf("templates: %s: no %q label: %w", name, lang, rbac.ErrInvalidInput)
		}
	}
	for _, list := range [][]rbac.Permission{allow, deny} {
		for _, x := range list {
			if err := x.ValidatePattern(); err != nil {
				return &UnknownPermissionError{Template: name, Permission: x, Reason: err.Error()}
			}
			if !s.covers(x) {
				return &UnknownPermissionError{Template: name, Permission: x, Reason: "not in the permission catalog"}
			}
		}
	}
	return nil
}

// covers reports whether rule x names a catalog permission.
func (s *Set) covers(x rbac.Permission) bool {
	if !x.IsWildcard() {
		_, ok := s.known[x]
		return ok
	}
	return slices.ContainsFunc(s.catalog, x.Covers)
}

// IDs returns the template ids, sorted.
func (s *Set) IDs() []rbac.RoleID {
	ids := slices.Collect(maps.Keys(s.byID))
	slices.Sort(ids)
	return ids
}

// Template returns the template id.
func (s *Set) Template(id rbac.RoleID) (Template, bool) {
	t, ok := s.byID[id]
	if !ok {
		return Template{}, false
	}
	return t.clone(), true
}

// Permissions returns the catalog, sorted. Put it in the model
// (rbac.Change.AddPermissions) so that template wildcards cover every
// catalog permission, including those no rule names exactly.
func (s *Set) Permissions() []rbac.Permission { return slices.Clone(s.catalog) }

func (t Template) clone() Template {
	t.Labels = maps.Clone(t.Labels)
	t.Permissions = slices.Clone(t.Permissions)
	t.Deny = slices.Clone(t.Deny)
	return t
}

// An Edit customises a role instantiated from a template.
type Edit func(*rbac.Role)

// Add adds allow rules.
func Add(perms ...rbac.Permission) Edit {
	return func(r *rbac.Role) {
		for _, x := range perms {
			if !slices.Contains(r.Permissions, x) {
				r.Permissions = append(r.Permissions, x)
			}
		}
	}
}

// Remove removes allow rules (exactly as written in the template).
func Remove(perms ...rbac.Permission) Edit {
	return func(r *rbac.Role) {
		r.Permissions = slices.DeleteFunc(r.Permissions, func(x rbac.Permission) bool { return slices.Contains(perms, x) })
	}
}

// Deny adds deny rules, which beat any allow.
func Deny(perms ...rbac.Permission) Edit {
	return func(r *rbac.Role) {
		for _, x := range perms {
			if !slices.Contains(r.Deny, x) {
				r.Deny = append(r.Deny, x)
			}
		}
	}
}

// Label sets the display name in language lang ("en", "fr").
func Label(lang, text string) Edit { return func(r *rbac.Role) { r.Labels[lang] = text } }

// Instantiate returns template tmpl as a role named id, with edits applied
// in order. The result is checked like a template: a permission outside
// the catalog is an [*UnknownPermissionError]; an unknown template wraps
// rbac.ErrNotFound.
func (s *Set) Instantiate(tmpl, id rbac.RoleID, edits ...Edit) (rbac.Role, error) {
	t, ok := s.byID[tmpl]
	if !ok {
		return rbac.Role{}, fmt.Errorf("templates: template %q: %w", tmpl, ErrUnknownTemplate)
	}
	t = t.clone()
	r := rbac.Role{ID: id, Labels: t.Labels, Permissions: t.Permissions, Deny: t.Deny, Composite: t.Composite, Emergency: t.Emergency}
	for _, e := range edits {
		e(&r)
	}
	if err := s.validate(string(tmpl)+" as "+string(id), r.ID, r.Labels, r.Permissions, r.Deny); err != nil {
		return rbac.Role{}, err
	}
	return r, nil
}

// Roles instantiates every template under its own id.
func (s *Set) Roles() []rbac.Role {
	out := make([]rbac.Role, 0, len(s.byID))
	for _, id := range s.IDs() {
		t := s.byID[id].clone() // validated at load
		out = append(out, rbac.Role{ID: id, Labels: t.Labels, Permissions: t.Permissions, Deny: t.Deny, Composite: t.Composite, Emergency: t.Emergency})
	}
	return out
}
