package rbac

import (
	"math"
	"slices"
	"time"

	"github.com/civic-platform/security/internal/instant"
)

// The read-only queries in this file answer, from the compiled policy, the
// questions that other packages (the data scopes of the facade, reports)
// need beyond a yes/no check: which grants bear on a permission, which
// scopes lie beneath which, and what a role holds. They are not on the hot
// path of [Policy.Decide] and may allocate.

// Bearing is one grant in force that bears on a permission: its role, with
// everything it inherits, allows the permission, denies it, or both (deny
// wins, as in a check).
type Bearing struct {
	// Grant identifies the grant: its holder (the subject itself, or a
	// group or unit it belongs to), role and scope.
	Grant GrantKey
	// Allows reports that an allow rule of the role, or of a role it
	// inherits, covers the permission.
	Allows bool
	// Denies reports that a deny rule does.
	Denies bool
	// Emergency reports that the grant was made under emergency access, as
	// [Result.Emergency] does for a check.
	Emergency bool
}

// InForce is what a subject's grants in force mean for one permission
// during a stretch of time in which none of them starts or ends.
type InForce struct {
	// Grants lists the grants in force that allow or deny the permission,
	// each (role, scope) pair once, in the order a check reads them.
	Grants      []Bearing
	from, until int64
}

// ValidAt reports whether f still describes the subject at t: from the
// latest window boundary at or before the instant it was computed for, up
// to the next one.
func (f *InForce) ValidAt(t time.Time) bool {
	n := instant.Of(t)
	return n >= f.from && n < f.until
}

// Until returns the first instant at which f stops describing the subject
// (a grant of the subject's starts or ends), or the zero Time when none
// ever does.
func (f *InForce) Until() time.Time {
	if f.until == math.MaxInt64 {
		return time.Time{}
	}
	return instant.Time(f.until)
}

// GrantsInForce returns the grants of sub (its own and those of the groups
// and units it belongs to) that are in force at at and allow or
// deny x, with the stretch of time over which that answer holds. A check of
// x at scope s for sub allows exactly when some returned grant whose scope
// covers s ([Policy.ScopeCovers]) allows and none whose scope covers s
// denies.
//
// A malformed or wildcard permission is an [*InvalidError]. A subject the
// policy does not know, a subject a quarantined row blocks (see
// [QuarantinedRow]), or a permission no rule covers, has no grants.
func (p *Policy) GrantsInForce(sub Subject, x Permission, t time.Time) (InForce, error) {
	at := instant.Of(t)
	q, err := p.Resolve(x, OrgScope)
	if err != nil {
		return InForce{}, err
	}
	out := InForce{from: math.MinInt64, until: math.MaxInt64}
	si, ok := p.subject(sub)
	if !ok || (p.blocked != nil && p.blocked[si]) { // a quarantined row blocks sub: nothing bears
		return out, nil
	}
	s := &p.subjects[si]
	hot := p.hot[s.start:s.end]
	for k := range hot {
		g := &hot[k]
		for _, edge := range [2]int64{g.from, g.until} {
			if edge <= at {
				out.from = max(out.from, edge)
			} else {
				out.until = min(out.until, edge)
			}
		}
		if at < g.from || at >= g.until || q.n == 0 {
			continue
		}
		b := Bearing{
			Allows:    q.hit(p.allowBits(g.role)),
			Denies:    g.denies && q.hit(p.denyBits(g.role)),
			Emergency: g.emergency,
		}
		if !b.Allows && !b.Denies {
			continue
		}
		b.Grant = p.grantKey(g.grant)
		if slices.ContainsFunc(out.Grants, func(o Bearing) bool {
			return o.Grant.Role == b.Grant.Role && o.Grant.Scope == b.Grant.Scope
		}) {
			continue
		}
		out.Grants = append(out.Grants, b)
	}
	return out, nil
}

// RoleHolds reports whether role r, with everything it inherits, has an
// allow rule and a deny rule covering the concrete permission x. A role the
// policy does not declare holds nothing.
func (p *Policy) RoleHolds(r RoleID, x Permission) (allows, denies bool) {
	ri, ok := p.roleIdx[r]
	if !ok {
		return false, false
	}
	q, err := p.Resolve(x, OrgScope)
	if err != nil {
		return false, false
	}
	return q.hit(p.allowBits(ri)), q.hit(p.denyBits(ri))
}

// RoleLineage returns r followed by every role it inherits, directly or
// through others, each once, nearest first. It returns nil for a role the
// policy does not declare.
func (p *Policy) RoleLineage(r RoleID) []RoleID {
	ri, ok := p.roleIdx[r]
	if !ok {
		return nil
	}
	seen := map[int32]bool{ri: true}
	order := []int32{ri}
	for i := 0; i < len(order); i++ {
		for _, parent := range p.roles[order[i]].role.Inherits {
			pi := p.roleIdx[parent]
			if !seen[pi] {
				seen[pi] = true
				order = append(order, pi)
			}
		}
	}
	out := make([]RoleID, len(order))
	for i, x := range order {
		out[i] = p.roles[x].role.ID
	}
	return out
}

// KnowsPermission reports whether x is a concrete permission the policy
// knows: named exactly by a rule or listed in [Model.Permissions].
func (p *Policy) KnowsPermission(x Permission) bool {
	_, ok := p.permission(x)
	return ok
}

// Covered returns the concrete permissions the policy knows that rule
// pattern x covers, sorted: x itself when it is exact and known, every
// known permission under its prefix when it is a wildcard (permits.*), and
// none for a malformed pattern. A wildcard that covers nothing here still
// covers permissions added later; callers that configure against a policy
// (data rules, templates) use this to refuse a wildcard that is a typo.
func (p *Policy) Covered(x Permission) []Permission {
	if x.ValidatePattern() != nil {
		return nil
	}
	if !x.IsWildcard() {
		if p.KnowsPermission(x) {
			return []Permission{x}
		}
		return nil
	}
	prefix := x[:len(x)-1]
	from, _ := slices.BinarySearch(p.permNames, prefix)
	var out []Permission
	for _, n := range p.permNames[from:] {
		if len(n) < len(prefix) || n[:len(prefix)] != prefix {
			break
		}
		out = append(out, n)
	}
	return out
}

// KnowsScope reports whether the policy knows scope s: org, a scope the
// scope tree declares, or a scope some grant names.
func (p *Policy) KnowsScope(s Scope) bool {
	_, ok := p.scope(s)
	return ok
}

// Scopes returns every scope the policy knows, org first, then in the order
// the tree declares them and grants name them.
func (p *Policy) Scopes() []Scope {
	out := make([]Scope, len(p.scopes))
	for i := range p.scopes {
		out[i] = p.scopes[i].name
	}
	return out
}

// ScopeCovers reports whether a grant at g covers scope s: g is org, or g is
// s or one of its ancestors in the scope tree. A scope the policy does not
// know sits directly under org, as in a check.
func (p *Policy) ScopeCovers(g, s Scope) bool {
	if g == OrgScope {
		return true
	}
	gi, ok := p.scope(g)
	if !ok {
		return g == s
	}
	si, ok := p.scope(s)
	if !ok {
		return false
	}
	return p.covers(gi, si)
}

// ScopeLineage returns s followed by its ancestors up to and including org.
// A scope the policy does not know sits directly under org.
func (p *Policy) ScopeLineage(s Scope) []Scope {
	si, ok := p.scope(s)
	if !ok {
		if s == OrgScope {
			return []Scope{OrgScope}
		}
		return []Scope{s, OrgScope}
	}
	var out []Scope
	for x := si; x >= 0; x = p.scopes[x].parent {
		out = append(out, p.scopes[x].name)
	}
	return out
}

// Beneath returns g and every known scope beneath it in the scope tree (for
// org, every scope the policy knows), in the order of [Policy.Scopes]. A
// scope the policy does not know has nothing beneath it.
func (p *Policy) Beneath(g Scope) []Scope {
	gi, ok := p.scope(g)
	if !ok {
		return []Scope{g}
	}
	var out []Scope
	for i := range p.scopes {
		if p.covers(gi, int32(i)) {
			out = append(out, p.scopes[i].name)
		}
	}
	return out
}
