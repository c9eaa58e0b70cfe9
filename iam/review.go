package iam

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/civic-platform/security/internal/csvsafe"
	"github.com/civic-platform/security/rbac"
)

// ComplianceReport lists every violation of a conflict rule present in the
// policy: those enforcement refused to create never appear, so a report
// with no open violations is the evidence that enforcement holds. It also
// lists violations that predate their rule and waived ones (shown as
// waived, with who approved, why and until when).
type ComplianceReport struct {
	At         time.Time
	Revision   int64
	Rules      []ConflictRule
	Violations []Violation
}

// Open returns the number of violations not covered by a waiver.
func (r ComplianceReport) Open() int {
	n := 0
	for _, v := range r.Violations {
		if v.Waiver == nil {
			n++
		}
	}
	return n
}

// Waived returns the number of waived violations.
func (r ComplianceReport) Waived() int { return len(r.Violations) - r.Open() }

// ComplianceReport reports the violations of the conflict rules in the
// current policy snapshot, now. It scans every principal; over 10,000 users
// it takes milliseconds.
func (a *Authorizer) ComplianceReport(ctx context.Context) (ComplianceReport, error) {
	s, err := a.load()
	if err != nil {
		return ComplianceReport{}, err
	}
	now := a.opts.clock()
	return ComplianceReport{At: now, Revision: s.revision, Rules: s.policy.Conflicts(), Violations: s.policy.Violations(now)}, nil
}

func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return stamp(t)
}

// WriteCSV writes one row per violation with a header row. status is
// "violation" or "waived".
func (r ComplianceReport) WriteCSV(w io.Writer) error {
	rows := [][]string{{"rule", "description", "subject", "status", "first_grant", "first_path", "second_grant", "second_path",
		"from", "until", "waiver_approved_by", "waiver_reason", "waiver_until"}}
	for _, v := range r.Violations {
		status, by, why, until := "violation", "", "", ""
		if v.Waiver != nil {
			status, by, why, until = "waived", string(v.Waiver.ApprovedBy), v.Waiver.Reason, timeCell(v.Waiver.NotAfter)
		}
		rows = append(rows, []string{v.Rule, v.Description, string(v.Subject), status, v.First.Grant.String(), pathText(v.First.Path),
			v.Second.Grant.String(), pathText(v.Second.Path), timeCell(v.From), timeCell(v.Until), by, why, until})
	}
	if err := csvsafe.Write(w, rows); err != nil {
		return fmt.Errorf("iam: compliance csv: %w", err)
	}
	return nil
}

type ruleJSON struct {
	ID          string   `json:"id"`
	Description string   `json:"description,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

type waiverJSON struct {
	ApprovedBy string `json:"approved_by"`
	Reason     string `json:"reason"`
	Until      string `json:"until,omitempty"`
}

type holdingJSON struct {
	Grant string `json:"grant"`
	Path  string `json:"path"`
}

type violationJSON struct {
	Rule        string      `json:"rule"`
	Description string      `json:"description,omitempty"`
	Subject     string      `json:"subject"`
	Status      string      `json:"status"`
	First       holdingJSON `json:"first"`
	Second      holdingJSON `json:"second"`
	From        string      `json:"from,omitempty"`
	Until       string      `json:"until,omitempty"`
	Waiver      *waiverJSON `json:"waiver,omitempty"`
}

type complianceJSON struct {
	V          int             `json:"v"`
	Kind       string          `json:"kind"`
	At         time.Time       `json:"at"`
	Revision   int64           `json:"revision"`
	Rules      []ruleJSON      `json:"rules"`
	Summary    map[string]int  `json:"summary"`
	Violations []violationJSON `json:"violations"`
}

// WriteJSON writes the report as one JSON document (schema version 1, kind
// "sod.compliance"): {"v":1,"kind":"sod.compliance","at":…,"revision":…,
// "rules":[…],"summary":{"violations":N,"waived":M},"violations":[…]}.
func (r ComplianceReport) WriteJSON(w io.Writer) error {
	doc := complianceJSON{V: 1, Kind: "sod.compliance", At: r.At.UTC(), Revision: r.Revision, Rules: []ruleJSON{}, Violations: []violationJSON{},
		Summary: map[string]int{"violations": r.Open(), "waived": r.Waived()}}
	for _, x := range r.Rules {
		rj := ruleJSON{ID: x.ID, Description: x.Description}
		if x.IsRoleRule() {
			rj.Roles = []string{string(x.Roles[0]), string(x.Roles[1])}
		} else {
			rj.Permissions = []string{string(x.Permissions[0]), string(x.Permissions[1])}
		}
		doc.Rules = append(doc.Rules, rj)
	}
	for _, v := range r.Violations {
		vj := violationJSON{Rule: v.Rule, Description: v.Description, Subject: string(v.Subject), Status: "violation",
			First:  holdingJSON{Grant: v.First.Grant.String(), Path: pathText(v.First.Path)},
			Second: holdingJSON{Grant: v.Second.Grant.String(), Path: pathText(v.Second.Path)},
			From:   timeCell(v.From), Until: timeCell(v.Until)}
		if v.Waiver != nil {
			vj.Status = "waived"
			vj.Waiver = &waiverJSON{ApprovedBy: string(v.Waiver.ApprovedBy), Reason: v.Waiver.Reason, Until: timeCell(v.Waiver.NotAfter)}
		}
		doc.Violations = append(doc.Violations, vj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("iam: compliance json: %w", err)
	}
	return nil
}

// AccessEntry is one principal or group holding a permission at a scope,
// and the path that gives it.
type AccessEntry struct {
	Subject Subject
	Scope   Scope
	Path    Path
}

// AccessReview answers "who holds perm, through which path" across the
// whole organisation: every subject (users, service accounts, and the
// groups and units that hold grants) that may use perm now at the scope of
// one of the grants reaching it, with the path that allows it. It reads
// the store and scans every grant; use it for reviews, not per request.
func (a *Authorizer) AccessReview(ctx context.Context, perm Permission) ([]AccessEntry, error) {
	if err := perm.Validate(); err != nil {
		return nil, fmt.Errorf("iam: access review: %w", err)
	}
	m, _, err := a.src.LoadPolicy(ctx)
	if err != nil {
		return nil, fmt.Errorf("iam: access review: %w", err)
	}
	p, err := rbac.Compile(m)
	if err != nil {
		return nil, fmt.Errorf("iam: access review: %w", err)
	}
	return holdersOf(m, p, perm, a.opts.clock())
}

// holdersOf lists who may use perm at the scope of each grant reaching them.
func holdersOf(m Model, p *rbac.Policy, perm Permission, now time.Time) ([]AccessEntry, error) {
	members := map[Subject][]Subject{}
	for _, ms := range m.Members {
		members[ms.Group] = append(members[ms.Group], ms.Member)
	}
	type key struct {
		sub   Subject
		scope Scope
	}
	seen := map[key]bool{}
	var out []AccessEntry
	for _, g := range m.Grants {
		for _, sub := range append([]Subject{g.Subject}, members[g.Subject]...) {
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
	Subject    Subject
	Scope      Scope
	Permission Permission
	// Path is how the subject holds it today.
	Path Path
}

// DryRunRemove reports who would lose what if the allow rule perm (exact
// or wildcard, as written in the role) were removed from role — through
// the role itself, roles that inherit it, groups and units — without
// changing anything. A role that does not exist, or does not have the
// rule, wraps [ErrNotFound].
func (a *Authorizer) DryRunRemove(ctx context.Context, role RoleID, perm Permission) ([]Loss, error) {
	m, _, err := a.src.LoadPolicy(ctx)
	if err != nil {
		return nil, fmt.Errorf("iam: dry run: %w", err)
	}
	i := slices.IndexFunc(m.Roles, func(r Role) bool { return r.ID == role })
	if i < 0 {
		return nil, fmt.Errorf("iam: dry run: %w", &rbac.NotFoundError{Kind: "role", Name: string(role)})
	}
	if !slices.Contains(m.Roles[i].Permissions, perm) {
		return nil, fmt.Errorf("iam: dry run: %w", &rbac.NotFoundError{Kind: "rule", Name: string(perm) + " in role " + string(role)})
	}
	before, err := rbac.Compile(m)
	if err != nil {
		return nil, fmt.Errorf("iam: dry run: %w", err)
	}
	next := m.Clone()
	next.Roles[i].Permissions = slices.DeleteFunc(next.Roles[i].Permissions, func(x Permission) bool { return x == perm })
	next.Permissions = append(next.Permissions, perm) // keep the rule's permission known
	if perm.IsWildcard() {
		next.Permissions = next.Permissions[:len(next.Permissions)-1]
	}
	after, err := rbac.Compile(next)
	if err != nil {
		return nil, fmt.Errorf("iam: dry run: %w", err)
	}
	now := a.opts.clock()
	var perms []Permission
	for _, x := range before.KnownPermissions() {
		if perm.Covers(x) {
			perms = append(perms, x)
		}
	}
	var out []Loss
	for _, x := range perms {
		was, err := holdersOf(m, before, x, now)
		if err != nil {
			return nil, fmt.Errorf("iam: dry run: %w", err)
		}
		for _, h := range was {
			if !after.Allows(h.Subject, x, h.Scope, now) {
				out = append(out, Loss{Subject: h.Subject, Scope: h.Scope, Permission: x, Path: h.Path})
			}
		}
	}
	return out, nil
}

// CertificationRow is one grant a manager certifies.
type CertificationRow struct {
	Subject Subject // the principal holding the access
	Via     Subject // the group or unit the grant was made to, if any
	Role    RoleID
	Label   string // the role's English label, if any
	Scope   Scope
	From    time.Time
	Until   time.Time
	Reason  string
	Active  bool
	// Permissions are the permissions the role carries (own and inherited).
	Permissions []Permission
	// Violations counts the subject's open conflict violations.
	Violations int
}

// CertificationReport is a per-department access certification: every
// principal holding a grant at the department's scope or a scope beneath
// it, for its manager to confirm or revoke.
type CertificationReport struct {
	Department Scope
	At         time.Time
	Revision   int64
	Rows       []CertificationRow
}

// CertificationReport lists the access in department dept (a dept: scope)
// for its manager to certify. Grants at org are not listed (they belong to
// the organisation's own certification).
func (a *Authorizer) CertificationReport(ctx context.Context, dept Scope) (CertificationReport, error) {
	if err := dept.Validate(); err != nil || dept.Kind() != rbac.Dept {
		if err == nil {
			err = &rbac.InvalidError{Kind: "scope", Value: string(dept), Reason: "want a dept:<id> scope"}
		}
		return CertificationReport{}, fmt.Errorf("iam: certification: %w", err)
	}
	m, rev, err := a.src.LoadPolicy(ctx)
	if err != nil {
		return CertificationReport{}, fmt.Errorf("iam: certification: %w", err)
	}
	p, err := rbac.Compile(m)
	if err != nil {
		return CertificationReport{}, fmt.Errorf("iam: certification: %w", err)
	}
	now := a.opts.clock()
	parent := map[Scope]Scope{}
	for _, s := range m.Scopes {
		parent[s.Scope] = s.Parent
	}
	within := func(s Scope) bool {
		for i := 0; s != "" && s != OrgScope && i <= len(parent); i++ {
			if s == dept {
				return true
			}
			s = parent[s]
		}
		return false
	}
	members := map[Subject][]Subject{}
	for _, ms := range m.Members {
		members[ms.Group] = append(members[ms.Group], ms.Member)
	}
	perms, err := rolePermissions(m, now)
	if err != nil {
		return CertificationReport{}, fmt.Errorf("iam: certification: %w", err)
	}
	rep := CertificationReport{Department: dept, At: now, Revision: rev}
	violations := map[Subject]int{}
	for _, v := range p.Violations(now) {
		if v.Waiver == nil {
			violations[v.Subject]++
		}
	}
	for _, g := range m.Grants {
		if !within(g.Scope) {
			continue
		}
		r, _ := p.Role(g.Role)
		row := CertificationRow{Role: g.Role, Label: r.Labels["en"], Scope: g.Scope, From: g.NotBefore, Until: g.NotAfter,
			Reason: g.Reason, Active: g.ActiveAt(now), Permissions: perms[g.Role]}
		holders := []Subject{g.Subject}
		if !g.Subject.IsPrincipal() {
			row.Via, holders = g.Subject, members[g.Subject]
		}
		for _, h := range holders {
			row.Subject, row.Violations = h, violations[h]
			rep.Rows = append(rep.Rows, row)
		}
	}
	sort.SliceStable(rep.Rows, func(i, j int) bool {
		a, b := rep.Rows[i], rep.Rows[j]
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Role < b.Role
	})
	return rep, nil
}

// rolePermissions returns, for each role of m, the known permissions it
// carries with inheritance and deny rules applied: one compile of m's roles
// with a probe subject per role.
func rolePermissions(m Model, now time.Time) (map[RoleID][]Permission, error) {
	probe := Model{Permissions: m.Permissions, Roles: m.Roles}
	for i, r := range m.Roles {
		g := Grant{Subject: Subject(fmt.Sprintf("svc:probe-%d", i)), Role: r.ID, Scope: OrgScope}
		if r.Emergency {
			g.NotBefore, g.NotAfter = now.Add(-time.Minute), now.Add(time.Minute)
		}
		probe.Grants = append(probe.Grants, g)
	}
	p, err := rbac.Compile(probe)
	if err != nil {
		return nil, err
	}
	out := make(map[RoleID][]Permission, len(m.Roles))
	for i, r := range m.Roles {
		ps, err := p.Permissions(Subject(fmt.Sprintf("svc:probe-%d", i)), OrgScope, now)
		if err != nil {
			return nil, err
		}
		out[r.ID] = ps
	}
	return out, nil
}

// WriteCSV writes one row per grant and holder, with a header row.
func (r CertificationReport) WriteCSV(w io.Writer) error {
	rows := [][]string{{"department", "subject", "via", "role", "label", "scope", "from", "until", "active", "reason", "permissions", "open_violations"}}
	for _, x := range r.Rows {
		ps := make([]string, len(x.Permissions))
		for i, p := range x.Permissions {
			ps[i] = string(p)
		}
		rows = append(rows, []string{string(r.Department), string(x.Subject), string(x.Via), string(x.Role), x.Label, string(x.Scope),
			timeCell(x.From), timeCell(x.Until), fmt.Sprint(x.Active), x.Reason, strings.Join(ps, " "), fmt.Sprint(x.Violations)})
	}
	if err := csvsafe.Write(w, rows); err != nil {
		return fmt.Errorf("iam: certification csv: %w", err)
	}
	return nil
}

// WriteJSON writes the report as JSON (schema version 1, kind
// "access.certification").
func (r CertificationReport) WriteJSON(w io.Writer) error {
	type row struct {
		Subject     string   `json:"subject"`
		Via         string   `json:"via,omitempty"`
		Role        string   `json:"role"`
		Label       string   `json:"label,omitempty"`
		Scope       string   `json:"scope"`
		From        string   `json:"from,omitempty"`
		Until       string   `json:"until,omitempty"`
		Active      bool     `json:"active"`
		Reason      string   `json:"reason,omitempty"`
		Permissions []string `json:"permissions"`
		Violations  int      `json:"open_violations"`
	}
	doc := struct {
		V          int       `json:"v"`
		Kind       string    `json:"kind"`
		Department string    `json:"department"`
		At         time.Time `json:"at"`
		Revision   int64     `json:"revision"`
		Rows       []row     `json:"rows"`
	}{V: 1, Kind: "access.certification", Department: string(r.Department), At: r.At.UTC(), Revision: r.Revision, Rows: []row{}}
	for _, x := range r.Rows {
		ps := make([]string, len(x.Permissions))
		for i, p := range x.Permissions {
			ps[i] = string(p)
		}
		doc.Rows = append(doc.Rows, row{Subject: string(x.Subject), Via: string(x.Via), Role: string(x.Role), Label: x.Label, Scope: string(x.Scope),
			From: timeCell(x.From), Until: timeCell(x.Until), Active: x.Active, Reason: x.Reason, Permissions: ps, Violations: x.Violations})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("iam: certification json: %w", err)
	}
	return nil
}
