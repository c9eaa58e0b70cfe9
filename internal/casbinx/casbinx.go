package casbinx

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	casbin "github.com/casbin/casbin/v3"
	"github.com/casbin/casbin/v3/model"
	defaultrolemanager "github.com/casbin/casbin/v3/rbac/default-role-manager"

	"github.com/civic-platform/security/internal/instant"
	"github.com/civic-platform/security/internal/perm"
	"github.com/civic-platform/security/rbac"
)

// ModelText is the Casbin model (.conf) that expresses the rbac semantics.
//
//go:embed model.conf
var ModelText string

// Line is one policy line: PType ("p", "g", "g2", "g3") and its values.
type Line struct {
	PType  string
	Values []string
}

const (
	rolePrefix   = "role:"
	metaRole     = "meta:role"
	metaComp     = "meta:composite"
	metaEmerg    = "meta:emergency"
	metaPerm     = "meta:permission"
	allowPrefix  = "allow:"
	denyPrefix   = "deny:"
	openFrom     = "00000000000000000000"
	openUntil    = "99999999999999999999"
	roleMaxLevel = 2*rbac.MaxRoleDepth + 8
)

// Instant formats t as the fixed-width decimal the model compares.
func Instant(t time.Time) string { return fmt.Sprintf("%020d", instant.Of(t)) }

// bound formats a window end; the zero time is the open marker. Instants
// are those rbac.Compile accepts: strictly after the epoch (whose encoding
// is the open start) and before instant.Latest(), so no real instant encodes as
// either marker.
func bound(t time.Time, open string) string {
	if t.IsZero() {
		return open
	}
	return fmt.Sprintf("%020d", t.UnixNano())
}

// parseBound reads a window end written by bound: the open marker of its
// own end (open) or twenty decimal digits naming an instant rbac accepts.
// Anything else — the other end's marker, a sign, a space, another width,
// the epoch, an instant outside rbac's bounds — is refused, so that no
// stored value is read as "open" unless it is the marker, and none is read
// as an instant Casbin's string comparison would order differently.
func parseBound(s, open string) (time.Time, error) {
	if s == open {
		return time.Time{}, nil
	}
	if len(s) != 20 {
		return time.Time{}, fmt.Errorf("casbinx: bad instant %q: want 20 digits", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, fmt.Errorf("casbinx: bad instant %q: want 20 digits", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= instant.Max {
		return time.Time{}, fmt.Errorf("casbinx: bad instant %q: outside the instants rbac accepts", s)
	}
	return time.Unix(0, n).UTC(), nil
}

// Lines returns m as Casbin policy lines in a deterministic order. m must
// compile; Lines validates it first.
func Lines(m rbac.Model) ([]Line, error) {
	if _, err := rbac.Compile(m); err != nil {
		return nil, err
	}
	return Encode(m), nil
}

// Encode returns m as Casbin policy lines without validating it: for a
// caller that has just compiled m (a store applying a change), where a
// second compilation would only repeat the work. Use [Lines] otherwise.
func Encode(m rbac.Model) []Line {
	var out []Line
	add := func(pt string, v ...string) { out = append(out, Line{PType: pt, Values: v}) }
	for _, g := range m.Grants {
		from, until := bound(g.NotBefore, openFrom), bound(g.NotAfter, openUntil)
		add("p", string(g.Subject), rolePrefix+string(g.Role), string(g.Scope), from, until, "allow")
		add("p", string(g.Subject), rolePrefix+string(g.Role), string(g.Scope), from, until, "deny")
	}
	for _, ms := range m.Members {
		add("g", string(ms.Member), string(ms.Group))
	}
	for _, r := range m.Roles {
		id := rolePrefix + string(r.ID)
		add("g2", id, metaRole)
		if r.Composite {
			add("g2", id, metaComp)
		}
		if r.Emergency {
			add("g2", id, metaEmerg)
		}
		for _, parent := range r.Inherits {
			add("g2", id, rolePrefix+string(parent))
		}
		for _, x := range r.Permissions {
			add("g2", id, allowPrefix+string(x))
		}
		for _, x := range r.Deny {
			add("g2", id, denyPrefix+string(x))
		}
	}
	for _, x := range m.Permissions {
		add("g2", allowPrefix+string(x), metaPerm)
	}
	for _, s := range m.Scopes {
		parent := s.Parent
		if parent == "" {
			parent = rbac.OrgScope
		}
		add("g3", string(s.Scope), string(parent))
	}
	return dedupe(out)
}

func dedupe(lines []Line) []Line {
	seen := make(map[string]struct{}, len(lines))
	out := lines[:0]
	for _, l := range lines {
		k := l.PType + "\x00" + strings.Join(l.Values, "\x00")
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		out = append(out, l)
	}
	return out
}

// FromLines rebuilds a model from policy lines, as a store loads it. The
// result is validated with rbac.Compile. Grant reasons and role labels are
// not part of the line format and come back empty; [WithExtras] restores
// them from the extras document.
func FromLines(lines []Line) (rbac.Model, error) {
	return DecodeValid(lines, nil)
}

// DecodeValid rebuilds a model from policy lines and an extras document
// (see [Extras]; empty for none) and validates it with rbac.Compile, once.
func DecodeValid(lines []Line, extras []byte) (rbac.Model, error) {
	m, err := Decode(lines, extras)
	if err != nil {
		return rbac.Model{}, err
	}
	if _, err := rbac.Compile(m); err != nil {
		return rbac.Model{}, fmt.Errorf("casbinx: stored policy is invalid: %w", err)
	}
	return m, nil
}

// Decode rebuilds a model from policy lines and an extras document without
// validating its meaning (malformed lines are still refused): for a caller
// that compiles the result anyway, as a store applying a change does.
func Decode(lines []Line, extras []byte) (rbac.Model, error) {
	m, err := decodeLines(lines)
	if err != nil {
		return rbac.Model{}, err
	}
	return applyExtras(m, extras)
}

func decodeLines(lines []Line) (rbac.Model, error) {
	var m rbac.Model
	roles := map[rbac.RoleID]*rbac.Role{}
	var order []rbac.RoleID
	role := func(name string) (*rbac.Role, error) {
		id, ok := strings.CutPrefix(name, rolePrefix)
		if !ok {
			return nil, fmt.Errorf("casbinx: %q is not a role", name)
		}
		r, ok := roles[rbac.RoleID(id)]
		if !ok {
			r = &rbac.Role{ID: rbac.RoleID(id)}
			roles[r.ID] = r
			order = append(order, r.ID)
		}
		return r, nil
	}
	want := func(l Line, n int) error {
		if len(l.Values) < n {
			return fmt.Errorf("casbinx: %s line with %d values, want %d", l.PType, len(l.Values), n)
		}
		return nil
	}
	var grants, members int
	for _, l := range lines { // size the big slices once instead of growing them
		switch l.PType {
		case "p":
			grants++
		case "g":
			members++
		}
	}
	if grants > 0 {
		m.Grants = make([]rbac.Grant, 0, grants)
	}
	if members > 0 {
		m.Members = make([]rbac.Membership, 0, members)
	}
	for _, l := range lines {
		switch l.PType {
		case "p":
			if err := want(l, 6); err != nil {
				return rbac.Model{}, err
			}
			if l.Values[5] != "allow" {
				continue // the deny twin carries nothing new
			}
			if !strings.HasPrefix(l.Values[1], rolePrefix) {
				return rbac.Model{}, fmt.Errorf("casbinx: %q is not a role", l.Values[1])
			}
			from, err := parseBound(l.Values[3], openFrom)
			if err != nil {
				return rbac.Model{}, err
			}
			until, err := parseBound(l.Values[4], openUntil)
			if err != nil {
				return rbac.Model{}, err
			}
			m.Grants = append(m.Grants, rbac.Grant{
				Subject: rbac.Subject(l.Values[0]), Role: rbac.RoleID(strings.TrimPrefix(l.Values[1], rolePrefix)),
				Scope: rbac.Scope(l.Values[2]), NotBefore: from, NotAfter: until,
			})
		case "g":
			if err := want(l, 2); err != nil {
				return rbac.Model{}, err
			}
			m.Members = append(m.Members, rbac.Membership{Member: rbac.Subject(l.Values[0]), Group: rbac.Subject(l.Values[1])})
		case "g2":
			if err := want(l, 2); err != nil {
				return rbac.Model{}, err
			}
			a, b := l.Values[0], l.Values[1]
			if b == metaPerm {
				x, ok := strings.CutPrefix(a, allowPrefix)
				if !ok {
					return rbac.Model{}, fmt.Errorf("casbinx: bad catalog line %q", a)
				}
				m.Permissions = append(m.Permissions, rbac.Permission(x))
				continue
			}
			r, err := role(a)
			if err != nil {
				return rbac.Model{}, err
			}
			switch {
			case b == metaRole:
			case b == metaComp:
				r.Composite = true
			case b == metaEmerg:
				r.Emergency = true
			case strings.HasPrefix(b, rolePrefix):
				r.Inherits = append(r.Inherits, rbac.RoleID(strings.TrimPrefix(b, rolePrefix)))
			case strings.HasPrefix(b, allowPrefix):
				r.Permissions = append(r.Permissions, rbac.Permission(strings.TrimPrefix(b, allowPrefix)))
			case strings.HasPrefix(b, denyPrefix):
				r.Deny = append(r.Deny, rbac.Permission(strings.TrimPrefix(b, denyPrefix)))
			default:
				return rbac.Model{}, fmt.Errorf("casbinx: unexpected g2 target %q", b)
			}
		case "g3":
			if err := want(l, 2); err != nil {
				return rbac.Model{}, err
			}
			m.Scopes = append(m.Scopes, rbac.ScopeNode{Scope: rbac.Scope(l.Values[0]), Parent: rbac.Scope(l.Values[1])})
		default:
			return rbac.Model{}, fmt.Errorf("casbinx: unknown policy type %q", l.PType)
		}
	}
	// Rows come back in no particular order; sort what could otherwise show
	// (role order, and the order Explain breaks ties in).
	slices.Sort(order)
	for _, id := range order {
		r := roles[id]
		slices.Sort(r.Inherits)
		slices.Sort(r.Permissions)
		slices.Sort(r.Deny)
		m.Roles = append(m.Roles, *r)
	}
	slices.Sort(m.Permissions)
	return m, nil
}

// NewModel parses the embedded model text.
func NewModel() (model.Model, error) { return model.NewModelFromString(ModelText) }

// NewEnforcer returns a plain Casbin enforcer over m: the reference answer.
// Its role managers allow hierarchies as deep as rbac accepts.
func NewEnforcer(m rbac.Model) (*casbin.Enforcer, error) {
	lines, err := Lines(m)
	if err != nil {
		return nil, err
	}
	return NewEnforcerFromLines(lines)
}

// NewEnforcerFromLines returns a plain Casbin enforcer over stored lines.
func NewEnforcerFromLines(lines []Line) (*casbin.Enforcer, error) {
	cm, err := NewModel()
	if err != nil {
		return nil, err
	}
	e, err := casbin.NewEnforcer(cm)
	if err != nil {
		return nil, err
	}
	if err := Configure(e); err != nil {
		return nil, err
	}
	if err := AddLines(e, lines); err != nil {
		return nil, err
	}
	return e, nil
}

// Configure gives e role managers deep enough for every model rbac accepts.
func Configure(e *casbin.Enforcer) error {
	for _, pt := range []string{"g", "g2", "g3"} {
		e.SetNamedRoleManager(pt, defaultrolemanager.NewRoleManagerImpl(roleMaxLevel))
	}
	return e.BuildRoleLinks()
}

// AddLines loads lines into e.
func AddLines(e casbin.IEnforcer, lines []Line) error {
	byType := map[string][][]string{}
	for _, l := range lines {
		byType[l.PType] = append(byType[l.PType], l.Values)
	}
	for _, pt := range []string{"g", "g2", "g3"} {
		if len(byType[pt]) == 0 {
			continue
		}
		if _, err := e.AddNamedGroupingPolicies(pt, byType[pt]); err != nil {
			return fmt.Errorf("casbinx: add %s lines: %w", pt, err)
		}
	}
	if len(byType["p"]) > 0 {
		if _, err := e.AddPolicies(byType["p"]); err != nil {
			return fmt.Errorf("casbinx: add p lines: %w", err)
		}
	}
	return nil
}

// Request returns the Casbin request values for a check: subject, scope,
// permission, instant, and the three wildcards that could cover the
// permission (empty where the permission has fewer segments).
func Request(sub rbac.Subject, x rbac.Permission, s rbac.Scope, at time.Time) []any {
	w := [3]string{}
	i := 0
	perm.WildcardPrefixes(string(x), func(prefix string) bool {
		if i < len(w) {
			w[i] = prefix + "*"
			i++
		}
		return i < len(w)
	})
	return []any{string(sub), string(s), string(x), Instant(at), w[0], w[1], w[2]}
}

// Enforce asks e the reference question.
func Enforce(e casbin.IEnforcer, sub rbac.Subject, x rbac.Permission, s rbac.Scope, at time.Time) (bool, error) {
	return e.Enforce(Request(sub, x, s, at)...)
}

// ExtrasVersion is the version of the extras document ([Extras]).
const ExtrasVersion = 1

// extrasDoc is the JSON form of the model parts that have no Casbin lines.
type extrasDoc struct {
	V         int          `json:"v"`
	Conflicts []extrasRule `json:"conflicts,omitempty"`
	Waivers   []extrasWaiv `json:"waivers,omitempty"`
	// Labels holds role display names: role id → language → text.
	Labels map[rbac.RoleID]map[string]string `json:"labels,omitempty"`
	// Reasons holds the free-text reasons of grants.
	Reasons []extrasReason `json:"reasons,omitempty"`
	// ImplicitScopes is rbac.Model.ImplicitScopes.
	ImplicitScopes bool `json:"implicit_scopes,omitempty"`
}

type extrasReason struct {
	Subject rbac.Subject `json:"subject"`
	Role    rbac.RoleID  `json:"role"`
	Scope   rbac.Scope   `json:"scope"`
	Reason  string       `json:"reason"`
}

// HasExtras reports whether m holds anything that only the extras document
// carries: conflict rules, waivers, role labels, grant reasons or the
// implicit-scopes opt-in.
func HasExtras(m rbac.Model) bool {
	if len(m.Conflicts)+len(m.Waivers) > 0 || m.ImplicitScopes {
		return true
	}
	for _, r := range m.Roles {
		if len(r.Labels) > 0 {
			return true
		}
	}
	for _, g := range m.Grants {
		if g.Reason != "" {
			return true
		}
	}
	return false
}

type extrasRule struct {
	ID          string            `json:"id"`
	Description string            `json:"description,omitempty"`
	Roles       []rbac.RoleID     `json:"roles,omitempty"`
	Permissions []rbac.Permission `json:"permissions,omitempty"`
}

type extrasWaiv struct {
	Rule       string       `json:"rule"`
	Subject    rbac.Subject `json:"subject"`
	ApprovedBy rbac.Subject `json:"approved_by"`
	Reason     string       `json:"reason"`
	NotBefore  string       `json:"not_before,omitempty"` // RFC 3339, UTC
	NotAfter   string       `json:"not_after,omitempty"`  // RFC 3339, UTC
}

// Extras returns the parts of m that the line format does not carry —
// segregation-of-duties rules and waivers, which hold free text — as one
// versioned JSON document that a store keeps next to the lines:
//
//	{"v":1,"conflicts":[{"id":"po","description":"…","roles":["a","b"]}],
//	 "waivers":[{"rule":"po","subject":"user:x","approved_by":"user:y","reason":"…","not_before":"…","not_after":"…"}]}
//
// A model without them gives {"v":1}. m is not validated here; stores
// validate it with rbac.Compile first.
func Extras(m rbac.Model) ([]byte, error) {
	doc := extrasDoc{V: ExtrasVersion, ImplicitScopes: m.ImplicitScopes}
	for _, r := range m.Conflicts {
		er := extrasRule{ID: r.ID, Description: r.Description}
		if r.IsRoleRule() {
			er.Roles = r.Roles[:]
		} else {
			er.Permissions = r.Permissions[:]
		}
		doc.Conflicts = append(doc.Conflicts, er)
	}
	for _, w := range m.Waivers {
		ew := extrasWaiv{Rule: w.Rule, Subject: w.Subject, ApprovedBy: w.ApprovedBy, Reason: w.Reason}
		if !w.NotBefore.IsZero() {
			ew.NotBefore = w.NotBefore.UTC().Format(time.RFC3339Nano)
		}
		if !w.NotAfter.IsZero() {
			ew.NotAfter = w.NotAfter.UTC().Format(time.RFC3339Nano)
		}
		doc.Waivers = append(doc.Waivers, ew)
	}
	for _, r := range m.Roles {
		if len(r.Labels) > 0 {
			if doc.Labels == nil {
				doc.Labels = map[rbac.RoleID]map[string]string{}
			}
			doc.Labels[r.ID] = r.Labels
		}
	}
	for _, g := range m.Grants {
		if g.Reason != "" {
			doc.Reasons = append(doc.Reasons, extrasReason{Subject: g.Subject, Role: g.Role, Scope: g.Scope, Reason: g.Reason})
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("casbinx: extras: %w", err)
	}
	return b, nil
}

// WithExtras returns m with the conflict rules and waivers of an extras
// document (see [Extras]) added, validated with rbac.Compile. An empty
// document adds nothing.
func WithExtras(m rbac.Model, doc []byte) (rbac.Model, error) {
	if len(strings.TrimSpace(string(doc))) == 0 {
		return m, nil
	}
	m, err := applyExtras(m, doc)
	if err != nil {
		return rbac.Model{}, err
	}
	if len(m.Conflicts)+len(m.Waivers) > 0 {
		if _, err := rbac.Compile(m); err != nil {
			return rbac.Model{}, fmt.Errorf("casbinx: stored policy is invalid: %w", err)
		}
	}
	return m, nil
}

// applyExtras adds the parts an extras document carries to m, checking
// only the document's own shape.
func applyExtras(m rbac.Model, doc []byte) (rbac.Model, error) {
	if len(strings.TrimSpace(string(doc))) == 0 {
		return m, nil
	}
	var d extrasDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return rbac.Model{}, fmt.Errorf("casbinx: extras: %w", err)
	}
	if d.V != ExtrasVersion {
		return rbac.Model{}, fmt.Errorf("casbinx: extras: version %d, want %d", d.V, ExtrasVersion)
	}
	m.ImplicitScopes = d.ImplicitScopes
	if len(d.Labels) > 0 {
		for i := range m.Roles {
			if l, ok := d.Labels[m.Roles[i].ID]; ok {
				m.Roles[i].Labels = l
			}
		}
	}
	if len(d.Reasons) > 0 {
		reasons := make(map[rbac.GrantKey]string, len(d.Reasons))
		for _, r := range d.Reasons {
			reasons[rbac.GrantKey{Subject: r.Subject, Role: r.Role, Scope: r.Scope}] = r.Reason
		}
		for i := range m.Grants {
			if r, ok := reasons[m.Grants[i].Key()]; ok {
				m.Grants[i].Reason = r
			}
		}
	}
	if len(d.Conflicts)+len(d.Waivers) == 0 {
		return m, nil
	}
	m.Conflicts, m.Waivers = nil, nil
	for _, er := range d.Conflicts {
		r := rbac.ConflictRule{ID: er.ID, Description: er.Description}
		switch {
		case len(er.Roles) == 2 && len(er.Permissions) == 0:
			r.Roles = [2]rbac.RoleID{er.Roles[0], er.Roles[1]}
		case len(er.Permissions) == 2 && len(er.Roles) == 0:
			r.Permissions = [2]rbac.Permission{er.Permissions[0], er.Permissions[1]}
		default:
			return rbac.Model{}, fmt.Errorf("casbinx: extras: conflict rule %q wants two roles or two permissions", er.ID)
		}
		m.Conflicts = append(m.Conflicts, r)
	}
	for _, ew := range d.Waivers {
		w := rbac.Waiver{Rule: ew.Rule, Subject: ew.Subject, ApprovedBy: ew.ApprovedBy, Reason: ew.Reason}
		if ew.NotBefore != "" {
			t, err := time.Parse(time.RFC3339Nano, ew.NotBefore)
			if err != nil {
				return rbac.Model{}, fmt.Errorf("casbinx: extras: waiver %s for %s: %w", ew.Rule, ew.Subject, err)
			}
			w.NotBefore = t.UTC()
		}
		if ew.NotAfter != "" {
			t, err := time.Parse(time.RFC3339Nano, ew.NotAfter)
			if err != nil {
				return rbac.Model{}, fmt.Errorf("casbinx: extras: waiver %s for %s: %w", ew.Rule, ew.Subject, err)
			}
			w.NotAfter = t.UTC()
		}
		m.Waivers = append(m.Waivers, w)
	}
	return m, nil
}
