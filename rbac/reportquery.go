package rbac

import "slices"

// Queries for reports: what a role grants, who a grant to a group or org
// unit reaches, and how a role reaches the roles it inherits. Each answers
// from the compiled tables, with the semantics a check uses, so a report
// never needs to compile a model of its own or invent subjects to probe
// with.

// RolePermissions returns the known concrete permissions role r allows,
// with everything it inherits or composes and its wildcard rules
// expanded, less those its own deny rules (or inherited ones) cover;
// sorted. It ignores grants and their windows: it is what holding r means,
// not who holds it. A role the policy does not declare holds nothing.
func (p *Policy) RolePermissions(r RoleID) []Permission {
	ri, ok := p.roleIdx[r]
	if !ok {
		return nil
	}
	allow, deny := p.allowBits(ri), p.denyBits(ri)
	var out []Permission
	for _, x := range p.permNames {
		q, err := p.Resolve(x, OrgScope)
		if err != nil {
			continue
		}
		if q.hit(allow) && !q.hit(deny) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

// RoleChains returns, for role r and every role it inherits directly or
// through others, the shortest chain of inheritance from r to it: r's own
// chain is [r], a parent's is [r parent], and so on, nearest first (the
// order of [Policy.RoleLineage]). It returns nil for a role the policy
// does not declare.
func (p *Policy) RoleChains(r RoleID) [][]RoleID {
	ri, ok := p.roleIdx[r]
	if !ok {
		return nil
	}
	type hop struct {
		role  int32
		chain []RoleID
	}
	seen := map[int32]bool{ri: true}
	queue := []hop{{ri, []RoleID{r}}}
	var out [][]RoleID
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		out = append(out, h.chain)
		for _, parent := range p.roles[h.role].role.Inherits {
			pi, ok := p.roleIdx[parent]
			if !ok || seen[pi] {
				continue
			}
			seen[pi] = true
			queue = append(queue, hop{pi, append(slices.Clone(h.chain), parent)})
		}
	}
	return out
}

// ContainersOf returns the groups and org units sub belongs to, whose
// grants reach it, sorted. A subject the policy does not name belongs to
// none.
func (p *Policy) ContainersOf(sub Subject) []Subject {
	si, ok := p.subject(sub)
	if !ok {
		return nil
	}
	s := p.subjects[si]
	out := make([]Subject, 0, s.mend-s.mstart)
	for _, ci := range p.members[s.mstart:s.mend] {
		out = append(out, p.subjects[ci].name)
	}
	slices.Sort(out)
	return out
}

// MembersOf returns the users and service accounts a grant made to the
// group or org unit c reaches, sorted. It scans every subject the policy
// names; call it once per container, not per grant.
func (p *Policy) MembersOf(c Subject) []Subject {
	ci, ok := p.subject(c)
	if !ok {
		return nil
	}
	var out []Subject
	for _, s := range p.subjects {
		if slices.Contains(p.members[s.mstart:s.mend], ci) {
			out = append(out, s.name)
		}
	}
	slices.Sort(out)
	return out
}
