package rbac

import (
	"math"
	"slices"
	"time"

	"github.com/civic-platform/security/internal/instant"
	"github.com/civic-platform/security/internal/perm"
)

// Reason says why a check decided as it did. The zero Reason is
// [ReasonNoGrant].
type Reason uint8

// The reasons a check gives.
const (
	ReasonNoGrant           Reason = iota // no grant in force covers the permission at the scope
	ReasonAllowed                         // a grant in force allows it and none denies it
	ReasonDenyRule                        // a role held at a covering scope denies it
	ReasonUnknownPermission               // no rule or catalog entry names the permission
	ReasonUnknownSubject                  // the subject holds no grant and belongs to nothing
	ReasonQuarantined                     // a stored row the policy was loaded without blocks the subject
)

var reasonText = [...]string{
	ReasonNoGrant:           "no grant in force covers this permission at this scope",
	ReasonAllowed:           "allowed by an active grant",
	ReasonDenyRule:          "denied by a deny rule",
	ReasonUnknownPermission: "unknown permission",
	ReasonUnknownSubject:    "subject has no grants",
	ReasonQuarantined:       "blocked by a quarantined policy row",
}

// String returns a human-readable form of r.
func (r Reason) String() string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return "unknown reason"
}

// Query is a validated, resolved (permission, scope) pair, ready to be
// checked for any subject. Resolving once and checking many subjects, or
// checking one subject many times, skips repeated validation.
type Query struct {
	// b0, b1, b2 (the first n of them) are the permission bits that answer
	// the query: the bit of a known permission (wildcards already folded
	// into it), or else the bits of the wildcard rules whose prefix covers
	// it (a permission has at most three prefixes). n == 0: no rule covers
	// the permission at all. The fields are scalars, not an array, so that
	// a Query travels in registers.
	b0, b1, b2 int32
	n          int8
	perm       int32 // known permission bit, or -1
	scope      int32 // -1: a well-formed scope that is neither declared nor granted
}

// add appends bit i to the query's bits.
func (q *Query) add(i int32) {
	switch q.n {
	case 0:
		q.b0 = i
	case 1:
		q.b1 = i
	default:
		q.b2 = i
	}
	q.n++
}

// hit reports whether the rule bitset covers the query's permission.
func (q *Query) hit(bits []uint64) bool {
	return q.n > 0 && has(bits, q.b0) ||
		q.n > 1 && has(bits, q.b1) ||
		q.n > 2 && has(bits, q.b2)
}

// Resolve validates a request's permission and scope against the grammar and
// looks them up. A wildcard in the permission, a malformed permission or an
// unknown scope kind is an [*InvalidError]. A well-formed permission that the
// policy does not know resolves, and every check of it denies.
func (p *Policy) Resolve(x Permission, s Scope) (Query, error) {
	pi, okp := p.permission(x)
	si, oks := p.scope(s)
	if okp && oks { // only valid names are interned
		return Query{b0: pi, n: 1, perm: pi, scope: si}, nil
	}
	return p.resolveSlow(x, s)
}

// resolveSlow is Resolve for a permission or scope the policy does not
// name: it validates them and looks for wildcard rules that cover the
// permission.
func (p *Policy) resolveSlow(x Permission, s Scope) (Query, error) {
	q := Query{perm: -1, scope: -1}
	if i, ok := p.permission(x); ok {
		q.perm = i
		q.add(i)
	} else {
		if err := x.Validate(); err != nil {
			return Query{}, err
		}
		perm.WildcardPrefixes(string(x), func(prefix string) bool {
			if w, ok := p.wildIdx[prefix]; ok && q.n < 3 {
				q.add(w)
			}
			return true
		})
	}
	if i, ok := p.scope(s); ok {
		q.scope = i
	} else if err := s.Validate(); err != nil {
		return Query{}, err
	}
	return q, nil
}

// Result is the outcome of a check. The zero Result denies.
type Result struct {
	Allowed bool
	Reason  Reason
	// Emergency reports that the check was made under emergency access:
	// the subject held, in force at a scope covering the request, a grant
	// of an emergency role — one marked Emergency or inheriting one,
	// however indirectly — whether its own or one of its groups' or org
	// units'. Every allowed decision that an emergency-derived permission
	// made possible has it set (and so do other checks made under
	// emergency access, denied ones included), so that the facade audits
	// it in detail. [Policy.EmergencyGrants] names the grants.
	Emergency bool
	grant     int32 // the deciding grant + 1; 0 if none
}

// DecidingGrant identifies the grant that decided r (an index into the
// compiled policy's grants, stable for the life of the Policy), or -1 when no
// grant matched. Callers use it to key caches of explanations.
func (r Result) DecidingGrant() int32 { return r.grant - 1 }

// covers reports whether a grant at scope g covers the request scope r.
func (p *Policy) covers(g, r int32) bool {
	if g == 0 {
		return true
	}
	for s := r; s > 0; s = p.scopes[s].parent {
		if s == g {
			return true
		}
	}
	return false
}

// Decide checks q for sub at instant at. It allocates nothing.
func (p *Policy) Decide(sub Subject, q Query, at time.Time) Result {
	return p.decide(sub, q, instant.Of(at))
}

// decide is Decide at an instant in Unix nanoseconds.
func (p *Policy) decide(sub Subject, q Query, at int64) Result {
	si, ok := p.subject(sub)
	if !ok {
		return Result{Reason: ReasonUnknownSubject}
	}
	if q.n == 0 {
		return Result{Reason: ReasonUnknownPermission}
	}
	s := &p.subjects[si]
	if p.blocked != nil && p.blocked[si] {
		return Result{Reason: ReasonQuarantined}
	}
	var allow, deny int32
	emergency := false
	hot := p.hot[s.start:s.end]
	for k := range hot {
		g := &hot[k]
		if at < g.from || at >= g.until || !p.covers(g.scope, q.scope) {
			continue
		}
		emergency = emergency || g.emergency
		if deny == 0 && g.denies && q.hit(p.denyBits(g.role)) {
			deny = g.grant + 1
		}
		if allow == 0 && q.hit(p.allowBits(g.role)) {
			allow = g.grant + 1
		}
	}
	return decided(allow, deny, emergency)
}

func decided(allow, deny int32, emergency bool) Result {
	switch {
	case deny != 0:
		return Result{Reason: ReasonDenyRule, Emergency: emergency, grant: deny}
	case allow != 0:
		return Result{Allowed: true, Reason: ReasonAllowed, Emergency: emergency, grant: allow}
	}
	return Result{Reason: ReasonNoGrant, Emergency: emergency}
}

// Allows reports whether sub may use x at scope s at time at. Malformed
// input denies. Use [Policy.Resolve] and [Policy.Decide] to tell the cases
// apart.
func (p *Policy) Allows(sub Subject, x Permission, s Scope, at time.Time) bool {
	q, err := p.Resolve(x, s)
	if err != nil {
		return false
	}
	return p.decide(sub, q, instant.Of(at)).Allowed
}

// perms is a subject's grants that are in force during one stretch of
// time: from the latest window boundary at or before the instant it was
// computed for, up to the next one.
type perms struct {
	from, until int64
	n           int32 // grants in force; the first len(few) of them are in few
	known       bool  // false for an unknown or a blocked subject
	blocked     bool  // a quarantined row blocks the subject
	// few holds the grants in force when there are at most len(few), which
	// is most subjects; many holds them all when there are more.
	few  [4]activeGrant
	many []activeGrant
}

// active returns the grants in force.
func (ps *perms) active() []activeGrant {
	if ps.many != nil {
		return ps.many
	}
	return ps.few[:ps.n]
}

// add records a grant in force, unless the same role at the same scope is
// already recorded.
func (ps *perms) add(g activeGrant) {
	for _, a := range ps.active() {
		if a.scope == g.scope && a.role == g.role {
			return
		}
	}
	switch {
	case ps.many != nil:
		ps.many = append(ps.many, g)
	case int(ps.n) < len(ps.few):
		ps.few[ps.n] = g
	default:
		ps.many = append(slices.Clone(ps.few[:]), g)
	}
	ps.n++
}

type activeGrant struct {
	scope, role, grant int32
	emergency, denies  bool
}

// effective returns sub's grants in force at at (Unix ns), with the
// stretch of time over which that set does not change.
func (p *Policy) effective(sub Subject, at int64) perms {
	si, ok := p.subject(sub)
	if !ok {
		return perms{from: 0, until: math.MaxInt64}
	}
	ps := perms{from: 0, until: math.MaxInt64, known: true}
	s := &p.subjects[si]
	if p.blocked != nil && p.blocked[si] {
		ps.known, ps.blocked = false, true
		return ps
	}
	hot := p.hot[s.start:s.end]
	for k := range hot {
		g := &hot[k]
		for _, edge := range [2]int64{g.from, g.until} {
			if edge <= at {
				ps.from = max(ps.from, edge)
			} else {
				ps.until = min(ps.until, edge)
			}
		}
		if at < g.from || at >= g.until {
			continue
		}
		ps.add(activeGrant{scope: g.scope, role: g.role, grant: g.grant, emergency: g.emergency, denies: g.denies})
	}
	return ps
}

// Permissions returns every known permission sub holds at scope s at time
// at, sorted.
func (p *Policy) Permissions(sub Subject, s Scope, at time.Time) ([]Permission, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	q := Query{scope: -1}
	if i, ok := p.scope(s); ok {
		q.scope = i
	}
	ps := p.effective(sub, instant.Of(at))
	allow := make([]uint64, p.words)
	deny := make([]uint64, p.words)
	for _, a := range ps.active() {
		if p.covers(a.scope, q.scope) {
			orInto(allow, p.allowBits(a.role))
			orInto(deny, p.denyBits(a.role))
		}
	}
	var out []Permission
	for i, name := range p.permNames {
		if has(allow, int32(i)) && !has(deny, int32(i)) {
			out = append(out, name)
		}
	}
	return out, nil
}
