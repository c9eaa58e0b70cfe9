package rbac

import (
	"github.com/civic-platform/security/internal/instant"

	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// StepKind names one hop of an explanation path.
type StepKind string

// The steps an explanation path is made of.
const (
	StepSubject StepKind = "subject" // who asked
	StepGroup   StepKind = "group"   // a group or org unit the subject belongs to
	StepGrant   StepKind = "grant"   // the assignment: role at scope, with its window
	StepRole    StepKind = "role"    // a role reached through inheritance or composition
	StepAllow   StepKind = "allow"   // the allow rule that matched
	StepDeny    StepKind = "deny"    // the deny rule that matched
)

// Step is one hop of a [Path].
type Step struct {
	Kind StepKind `json:"kind"`
	Name string   `json:"name"` // subject, role id, rule, or grant description
}

// Path is a chain from a subject to a rule: user → group → grant → role →
// parent role → rule.
type Path []Step

// String returns a human-readable form of p.
func (p Path) String() string {
	parts := make([]string, len(p))
	for i, s := range p {
		switch s.Kind {
		case StepRole:
			parts[i] = "role:" + s.Name
		case StepAllow, StepDeny, StepGrant:
			parts[i] = string(s.Kind) + " " + s.Name
		default:
			parts[i] = s.Name
		}
	}
	return strings.Join(parts, " → ")
}

// Explanation tells why a check decided as it did. Decisive is the path of
// the rule that decided (empty when nothing matched); Others lists further
// paths that matched the same permission at the same scope.
type Explanation struct {
	Allowed bool
	Reason  Reason
	// Emergency is [Result.Emergency] of the decision: it was made under
	// emergency access.
	Emergency bool
	Decisive  Path
	Others    []Path
}

// String returns a human-readable form of e.
func (e Explanation) String() string {
	verdict := "deny"
	if e.Allowed {
		verdict = "allow"
	}
	if len(e.Decisive) == 0 {
		return verdict + ": " + e.Reason.String()
	}
	return verdict + ": " + e.Decisive.String()
}

// Explain decides like [Policy.Decide] and also returns the paths that led
// to the decision. It is meant for people and logs, not for the hot path.
func (p *Policy) Explain(sub Subject, x Permission, s Scope, at time.Time) (Explanation, error) {
	q, err := p.Resolve(x, s)
	if err != nil {
		return Explanation{}, err
	}
	t := instant.Of(at)
	res := p.decide(sub, q, t)
	ex := Explanation{Allowed: res.Allowed, Reason: res.Reason, Emergency: res.Emergency}
	if q.n == 0 || res.Reason == ReasonQuarantined {
		return ex, nil
	}
	si, ok := p.subject(sub)
	if !ok {
		return ex, nil
	}
	want := StepAllow
	if res.Reason == ReasonDenyRule {
		want = StepDeny
	}
	sj := &p.subjects[si]
	for _, gi := range p.flat[sj.start:sj.end] {
		g := &p.grants[gi]
		if t < g.from || t >= g.until || !p.covers(g.scope, q.scope) {
			continue
		}
		chain, rule := p.ruleChain(g.role, &q, x, want)
		if chain == nil {
			continue
		}
		path := Path{{Kind: StepSubject, Name: string(sub)}}
		if g.holder != si {
			path = append(path, Step{Kind: StepGroup, Name: string(p.subjects[g.holder].name)})
		}
		path = append(path, Step{Kind: StepGrant, Name: p.grantText(g)})
		for _, r := range chain {
			path = append(path, Step{Kind: StepRole, Name: string(p.roles[r].role.ID)})
		}
		path = append(path, Step{Kind: want, Name: string(rule)})
		if res.grant == gi+1 && ex.Decisive == nil {
			ex.Decisive = path
		} else {
			ex.Others = append(ex.Others, path)
		}
	}
	return ex, nil
}

func (p *Policy) grantText(g *cgrant) string {
	s := string(p.roles[g.role].role.ID) + " at " + string(p.scopes[g.scope].name)
	if g.from > 0 {
		s += " from " + time.Unix(0, g.from).UTC().Format(time.RFC3339)
	}
	if g.until < 1<<63-1 {
		s += " until " + time.Unix(0, g.until).UTC().Format(time.RFC3339)
	}
	return s
}

// ruleChain finds, breadth first, the shortest chain of roles from r to a
// role whose own rule of the wanted kind covers the permission name.
func (p *Policy) ruleChain(r int32, q *Query, name Permission, want StepKind) ([]int32, Permission) {
	bits := p.allowBits
	if want == StepDeny {
		bits = p.denyBits
	}
	if !q.hit(bits(r)) {
		return nil, ""
	}
	prev := map[int32]int32{r: -1}
	queue := []int32{r}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		rules := p.roles[cur].role.Permissions
		if want == StepDeny {
			rules = p.roles[cur].role.Deny
		}
		for _, rule := range rules {
			if rule.Covers(name) {
				var chain []int32
				for c := cur; c >= 0; c = prev[c] {
					chain = append(chain, c)
				}
				slices.Reverse(chain)
				return chain, rule
			}
		}
		for _, parent := range p.roles[cur].role.Inherits {
			pi := p.roleIdx[parent]
			if _, seen := prev[pi]; !seen && q.hit(bits(pi)) {
				prev[pi] = cur
				queue = append(queue, pi)
			}
		}
	}
	return nil, ""
}

// RoleHolding says that a role holds a permission, and how: Path runs from
// the role through the roles it inherits to the rule.
type RoleHolding struct {
	Role RoleID `json:"role"`
	// Denied reports that the role also denies the permission, so holding
	// it never allows.
	Denied bool `json:"denied"`
	Path   Path `json:"path"`
}

// Holder is a subject that may use a permission at a scope, and the path
// that allows it.
type Holder struct {
	Subject Subject `json:"subject"`
	Path    Path    `json:"path"`
}

// Access answers "who can": the roles that hold a permission anywhere, and
// the subjects that hold it at a scope at an instant.
type Access struct {
	Permission Permission    `json:"permission"`
	Scope      Scope         `json:"scope"`
	Roles      []RoleHolding `json:"roles"`
	Subjects   []Holder      `json:"subjects"`
}

// WhoCan lists the roles that hold x (whatever the scope) and the subjects
// that may use it at scope s at time at, each with the path that gives it.
// Groups and units appear as subjects too, and so do their members. It
// scans the whole policy: use it for reviews and reports, not per request.
func (p *Policy) WhoCan(x Permission, s Scope, at time.Time) (Access, error) {
	q, err := p.Resolve(x, s)
	if err != nil {
		return Access{}, err
	}
	acc := Access{Permission: x, Scope: s}
	if q.n == 0 {
		return acc, nil
	}
	for ri := range p.roles {
		r := int32(ri)
		chain, rule := p.ruleChain(r, &q, x, StepAllow)
		if chain == nil {
			continue
		}
		h := RoleHolding{Role: p.roles[r].role.ID, Denied: q.hit(p.denyBits(r))}
		for _, c := range chain {
			h.Path = append(h.Path, Step{Kind: StepRole, Name: string(p.roles[c].role.ID)})
		}
		h.Path = append(h.Path, Step{Kind: StepAllow, Name: string(rule)})
		acc.Roles = append(acc.Roles, h)
	}
	sort.Slice(acc.Roles, func(i, j int) bool { return acc.Roles[i].Role < acc.Roles[j].Role })
	t := instant.Of(at)
	for _, sj := range p.subjects {
		if p.decide(sj.name, q, t).Allowed {
			ex, err := p.Explain(sj.name, x, s, at)
			if err != nil {
				return Access{}, fmt.Errorf("rbac: who can: %w", err)
			}
			acc.Subjects = append(acc.Subjects, Holder{Subject: sj.name, Path: ex.Decisive})
		}
	}
	sort.Slice(acc.Subjects, func(i, j int) bool { return acc.Subjects[i].Subject < acc.Subjects[j].Subject })
	return acc, nil
}
