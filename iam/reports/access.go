package reports

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// AccessEntry is one principal or group holding a permission at a scope,
// and the path that gives it.
type AccessEntry struct {
	Subject iam.Subject `json:"subject"`
	Scope   iam.Scope   `json:"scope"`
	Path    iam.Path    `json:"path"`
}

// AccessReview answers "who holds perm, through which path" across the
// whole organisation: every subject (users, service accounts, and the
// groups and units that hold grants) that may use perm at the view's
// instant at the scope of one of the grants reaching it, with the path
// that allows it. It scans every grant of the view; use it for reviews,
// not per request.
func AccessReview(v *iam.View, perm iam.Permission) ([]AccessEntry, error) {
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("reports: access review: %w", err)
	}
	if err := perm.Validate(); err != nil {
		return nil, fmt.Errorf("reports: access review: %w", err)
	}
	out, err := holdersOf(v.Model().Grants, v.Policy(), newMembers(v.Policy()), perm, v.At())
	if err != nil {
		return nil, fmt.Errorf("reports: access review: %w", err)
	}
	return out, nil
}

// members answers, once per container, who a grant to a group or org unit
// reaches, as the policy decides it.
type members struct {
	p    *rbac.Policy
	memo map[iam.Subject][]iam.Subject
}

func newMembers(p *rbac.Policy) *members {
	return &members{p: p, memo: map[iam.Subject][]iam.Subject{}}
}

// of returns the members of holder, or nil for a user or service account.
func (m *members) of(holder iam.Subject) []iam.Subject {
	if holder.IsPrincipal() {
		return nil
	}
	ms, ok := m.memo[holder]
	if !ok {
		ms = m.p.MembersOf(holder)
		m.memo[holder] = ms
	}
	return ms
}

// holdersOf lists who may use perm at the scope of each grant reaching
// them, deciding each with the policy's Explain.
func holdersOf(grants []iam.Grant, p *rbac.Policy, ms *members, perm iam.Permission, now time.Time) ([]AccessEntry, error) {
	type key struct {
		sub   iam.Subject
		scope iam.Scope
	}
	seen := map[key]bool{}
	var out []AccessEntry
	for _, g := range grants {
		for _, sub := range append([]iam.Subject{g.Subject}, ms.of(g.Subject)...) {
			k := key{sub, g.Scope}
			if seen[k] {
				continue
			}
			seen[k] = true
			ex, err := p.Explain(sub, perm, g.Scope, now)
			if err != nil {
				return nil, err
			}
			if ex.Allowed {
				out = append(out, AccessEntry{Subject: sub, Scope: g.Scope, Path: ex.Decisive})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Scope < out[j].Scope
	})
	return out, nil
}

// Loss is access a subject would lose.
type Loss struct {
	Subject    iam.Subject    `json:"subject"`
	Scope      iam.Scope      `json:"scope"`
	Permission iam.Permission `json:"permission"`
	// Path is how the subject holds it today.
	Path iam.Path `json:"path"`
}

// DryRunRemove reports who would lose what if the allow rule perm (exact
// or wildcard, as written in the role) were removed from role — through
// the role itself, roles that inherit it, groups and units — without
// changing anything. It compiles the view's model with that one rule
// removed and compares the two policies' decisions, each made by rbac. A
// role that does not exist, or does not have the rule, wraps
// [iam.ErrNotFound].
func DryRunRemove(v *iam.View, role iam.RoleID, perm iam.Permission) ([]Loss, error) {
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("reports: dry run: %w", err)
	}
	m := v.Model()
	i := slices.IndexFunc(m.Roles, func(r iam.Role) bool { return r.ID == role })
	if i < 0 {
		return nil, fmt.Errorf("reports: dry run: %w", &rbac.NotFoundError{Kind: "role", Name: string(role)})
	}
	if !slices.Contains(m.Roles[i].Permissions, perm) {
		return nil, fmt.Errorf("reports: dry run: %w", &rbac.NotFoundError{Kind: "rule", Name: string(perm) + " in role " + string(role)})
	}
	before := v.Policy()
	next := m.Clone()
	next.Roles[i].Permissions = slices.DeleteFunc(next.Roles[i].Permissions, func(x iam.Permission) bool { return x == perm })
	if !perm.IsWildcard() {
		next.Permissions = append(next.Permissions, perm) // keep the rule's permission known
	}
	after, err := rbac.Compile(next)
	if err != nil {
		return nil, fmt.Errorf("reports: dry run: %w", err)
	}
	now := v.At()
	ms := newMembers(before)
	var out []Loss
	for _, x := range before.KnownPermissions() {
		if !perm.Covers(x) {
			continue
		}
		was, err := holdersOf(m.Grants, before, ms, x, now)
		if err != nil {
			return nil, fmt.Errorf("reports: dry run: %w", err)
		}
		for _, h := range was {
			if !after.Allows(h.Subject, x, h.Scope, now) {
				out = append(out, Loss{Subject: h.Subject, Scope: h.Scope, Permission: x, Path: h.Path})
			}
		}
	}
	return out, nil
}
