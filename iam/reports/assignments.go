package reports

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// Assignment is one grant that reaches a subject.
type Assignment struct {
	Grant iam.Grant `json:"grant"`
	// Via is the group or org unit the grant was made to; empty when it
	// was made to the subject itself.
	Via iam.Subject `json:"via,omitempty"`
	// Active reports whether the grant is in force at the view's instant.
	Active bool `json:"active"`
	// Path is subject → group → grant.
	Path iam.Path `json:"path"`
}

// EffectiveRole is a role a subject holds through an assignment: the
// granted role or one it inherits, with the path from the subject to it.
type EffectiveRole struct {
	Role   iam.RoleID `json:"role"`
	Scope  iam.Scope  `json:"scope"`
	Active bool       `json:"active"`
	Until  time.Time  `json:"until,omitzero"` // the grant's end (RFC 3339); absent when open
	Path   iam.Path   `json:"path"`           // subject → group → grant → role → … → role
}

// SubjectAssignments is what [Assignments] returns.
type SubjectAssignments struct {
	Subject iam.Subject     `json:"subject"`
	Grants  []Assignment    `json:"grants"`
	Roles   []EffectiveRole `json:"roles"`
}

// Assignments lists the grants that reach sub — its own and those of the
// groups and org units it belongs to — and every role it holds through
// them, each with its path, from the view. Grant reasons are as the store
// kept them when the snapshot was loaded. Which containers sub belongs to
// and which roles a role inherits are decided by the compiled policy.
func Assignments(v *iam.View, sub iam.Subject) (SubjectAssignments, error) {
	if err := v.Err(); err != nil {
		return SubjectAssignments{}, fmt.Errorf("reports: assignments: %w", err)
	}
	if err := sub.Validate(); err != nil {
		return SubjectAssignments{}, fmt.Errorf("reports: assignments: %w", err)
	}
	p, now := v.Policy(), v.At()
	out := SubjectAssignments{Subject: sub}
	holders := append([]iam.Subject{sub}, p.ContainersOf(sub)...)
	for _, g := range v.Model().Grants {
		if !slices.Contains(holders, g.Subject) {
			continue
		}
		path := iam.Path{{Kind: rbac.StepSubject, Name: string(sub)}}
		var via iam.Subject
		if g.Subject != sub {
			via = g.Subject
			path = append(path, rbac.Step{Kind: rbac.StepGroup, Name: string(g.Subject)})
		}
		path = append(path, rbac.Step{Kind: rbac.StepGrant, Name: string(g.Role) + " at " + string(g.Scope)})
		as := Assignment{Grant: g, Via: via, Active: g.ActiveAt(now), Path: path}
		out.Grants = append(out.Grants, as)
		for _, chain := range p.RoleChains(g.Role) {
			rp := slices.Clone(path)
			for _, r := range chain {
				rp = append(rp, rbac.Step{Kind: rbac.StepRole, Name: string(r)})
			}
			out.Roles = append(out.Roles, EffectiveRole{Role: chain[len(chain)-1], Scope: g.Scope, Active: as.Active, Until: g.NotAfter, Path: rp})
		}
	}
	sort.SliceStable(out.Roles, func(i, j int) bool {
		if out.Roles[i].Role != out.Roles[j].Role {
			return out.Roles[i].Role < out.Roles[j].Role
		}
		return out.Roles[i].Scope < out.Roles[j].Scope
	})
	return out, nil
}
