package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/csvsafe"
	"github.com/civic-platform/security/rbac"
)

// CertificationRow is one grant a manager certifies.
type CertificationRow struct {
	Subject iam.Subject `json:"subject"`       // the principal holding the access
	Via     iam.Subject `json:"via,omitempty"` // the group or unit the grant was made to, if any
	Role    iam.RoleID  `json:"role"`
	Label   string      `json:"label,omitempty"` // the role's English label, if any
	Scope   iam.Scope   `json:"scope"`
	From    time.Time   `json:"from,omitzero"`
	Until   time.Time   `json:"until,omitzero"`
	Reason  string      `json:"reason,omitempty"`
	Active  bool        `json:"active"`
	// Permissions are the permissions the role carries (own and inherited).
	Permissions []iam.Permission `json:"permissions"`
	// Violations counts the subject's open conflict violations.
	Violations int `json:"open_violations"`
}

// CertificationReport is a per-department access certification: every
// principal holding a grant at the department's scope or a scope beneath
// it, for its manager to confirm or revoke. Its JSON form is the document
// [CertificationReport.WriteJSON] writes.
type CertificationReport struct {
	// Header says what the report evidences (see [Header]).
	Header     Header
	Department iam.Scope
	At         time.Time
	Revision   int64
	Rows       []CertificationRow
}

// Certification lists the access in department dept (a dept: scope) for
// its manager to certify, from the view's policy at its instant. Grants at
// org are not listed (they belong to the organisation's own
// certification). Which scopes lie in the department, who a group's grant
// reaches, and what a role carries are decided by the compiled policy.
func Certification(v *iam.View, dept iam.Scope) (CertificationReport, error) {
	if err := v.Err(); err != nil {
		return CertificationReport{}, fmt.Errorf("reports: certification: %w", err)
	}
	if err := dept.Validate(); err != nil || dept.Kind() != rbac.Dept {
		if err == nil {
			err = &rbac.InvalidError{Kind: "scope", Value: string(dept), Reason: "want a dept:<id> scope"}
		}
		return CertificationReport{}, fmt.Errorf("reports: certification: %w", err)
	}
	p, now := v.Policy(), v.At()
	ms := newMembers(p)
	perms := map[iam.RoleID][]iam.Permission{}
	rep := CertificationReport{Header: NewHeader(KindCertification, v.Revision(), now, time.Time{}, time.Time{}),
		Department: dept, At: now, Revision: v.Revision()}
	violations := map[iam.Subject]int{}
	for _, x := range p.Violations(now) {
		if x.Waiver == nil {
			violations[x.Subject]++
		}
	}
	for _, g := range v.Model().Grants {
		if g.Scope == iam.OrgScope || !p.ScopeCovers(dept, g.Scope) {
			continue
		}
		r, _ := p.Role(g.Role)
		ps, ok := perms[g.Role]
		if !ok {
			ps = p.RolePermissions(g.Role)
			perms[g.Role] = ps
		}
		row := CertificationRow{Role: g.Role, Label: r.Labels["en"], Scope: g.Scope, From: g.NotBefore, Until: g.NotAfter,
			Reason: g.Reason, Active: g.ActiveAt(now), Permissions: ps}
		holders := []iam.Subject{g.Subject}
		if !g.Subject.IsPrincipal() {
			row.Via, holders = g.Subject, ms.of(g.Subject)
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

// WriteCSV writes one row per grant and holder, with a header row, then
// the report's [Header] as "evidence" rows.
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
	rows = append(rows, r.header().rows(len(rows[0]))...)
	if err := csvsafe.Write(w, rows); err != nil {
		return fmt.Errorf("reports: certification csv: %w", err)
	}
	return nil
}

type certificationRowJSON struct {
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

type certificationJSON struct {
	V          int                    `json:"v"`
	Header     Header                 `json:"header"`
	Kind       string                 `json:"kind"`
	Department string                 `json:"department"`
	At         time.Time              `json:"at"`
	Revision   int64                  `json:"revision"`
	Rows       []certificationRowJSON `json:"rows"`
}

func (r CertificationReport) doc() certificationJSON {
	doc := certificationJSON{V: 1, Header: r.header(), Kind: KindCertification, Department: string(r.Department), At: r.At.UTC(), Revision: r.Revision,
		Rows: []certificationRowJSON{}}
	for _, x := range r.Rows {
		ps := make([]string, len(x.Permissions))
		for i, p := range x.Permissions {
			ps[i] = string(p)
		}
		doc.Rows = append(doc.Rows, certificationRowJSON{Subject: string(x.Subject), Via: string(x.Via), Role: string(x.Role), Label: x.Label,
			Scope: string(x.Scope), From: timeCell(x.From), Until: timeCell(x.Until), Active: x.Active, Reason: x.Reason, Permissions: ps,
			Violations: x.Violations})
	}
	return doc
}

// MarshalJSON encodes the report as the document
// [CertificationReport.WriteJSON] writes.
func (r CertificationReport) MarshalJSON() ([]byte, error) { return json.Marshal(r.doc()) }

// WriteJSON writes the report as JSON (schema version 1, kind
// "access.certification"): v, header, kind, department, at (RFC 3339), revision,
// and rows (subject, via, role, label, scope, from, until, active, reason,
// permissions, open_violations).
func (r CertificationReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.doc()); err != nil {
		return fmt.Errorf("reports: certification json: %w", err)
	}
	return nil
}

// header returns r.Header, or for a report built by hand the header its
// kind, revision and instant give.
func (r CertificationReport) header() Header {
	if r.Header.Report != "" {
		return r.Header
	}
	return NewHeader(KindCertification, r.Revision, r.At, time.Time{}, time.Time{})
}
