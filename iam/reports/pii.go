package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/csvsafe"
	"github.com/civic-platform/security/rbac"
)

// PIIOptions says what a PII field-access review covers.
type PIIOptions struct {
	// Permissions are the field-level permissions that guard personal
	// information ("crm.citizen.sin.view"). Empty: every field-level
	// permission (four segments) the policy knows whose action is "view".
	Permissions []iam.Permission
	// From and To bound the pii.viewed events counted: [From, To). Zero
	// From: from the first event; zero To: up to the view's instant.
	From, To time.Time
}

// PIIRole is a role whose effective permissions include a PII permission.
type PIIRole struct {
	Role  iam.RoleID `json:"role"`
	Label string     `json:"label,omitempty"`
	// LabelFR is the role's French label, if any.
	LabelFR string `json:"label_fr,omitempty"`
}

// PIIViews counts the pii.viewed events of one field through one role.
type PIIViews struct {
	// Role is the role through which the viewer held the permission when
	// the report was built ("" when they hold it no longer, or through no
	// role of this policy).
	Role  iam.RoleID `json:"role"`
	Field string     `json:"field"`
	Views int        `json:"views"`
	// Viewers counts the distinct people who viewed.
	Viewers int `json:"viewers"`
}

// PIIField is the review of one PII permission.
type PIIField struct {
	Permission iam.Permission `json:"permission"`
	// Roles hold the permission (own, inherited or composite rules).
	Roles []PIIRole `json:"roles"`
	// Holders may use it now, each with the path that allows it.
	Holders []AccessEntry `json:"holders"`
	// Views are the pii.viewed counts in the period, per role and field.
	Views []PIIViews `json:"views"`
}

// PIIAccessReport is the Privacy Officer's field-access review: for each
// field-level permission guarding personal information, which roles and
// which people hold it and through which path, and how often each field
// was viewed unmasked through each role over a period. It is the evidence
// a PIPEDA or MFIPPA file asks for. Its JSON form is the document
// [PIIAccessReport.WriteJSON] writes.
type PIIAccessReport struct {
	Header Header
	Fields []PIIField
}

// PIIAccess builds the review from the view's policy and the pii.viewed
// events collected from the audit sink (duplicates of an event id are
// counted once). Who holds what, and the role through which a viewer
// holds a permission, are decided by the compiled policy at the view's
// instant; events carry no role.
func PIIAccess(v *iam.View, events []iam.Event, opts PIIOptions) (PIIAccessReport, error) {
	if err := v.Err(); err != nil {
		return PIIAccessReport{}, fmt.Errorf("reports: pii access: %w", err)
	}
	p, now := v.Policy(), v.At()
	to := opts.To
	if to.IsZero() {
		to = now
	}
	if !opts.From.IsZero() && opts.From.After(to) {
		return PIIAccessReport{}, fmt.Errorf("reports: pii access: %w", &rbac.InvalidError{Kind: "period", Value: opts.From.String(), Reason: "starts after it ends"})
	}
	perms := slices.Clone(opts.Permissions)
	if len(perms) == 0 {
		for _, x := range p.KnownPermissions() {
			if strings.Count(string(x), ".") == 3 && strings.HasSuffix(string(x), ".view") {
				perms = append(perms, x)
			}
		}
	}
	for _, x := range perms {
		if err := x.Validate(); err != nil {
			return PIIAccessReport{}, fmt.Errorf("reports: pii access: %w", err)
		}
	}
	slices.Sort(perms)
	perms = slices.Compact(perms)

	model := v.Model()
	ms := newMembers(p)
	rep := PIIAccessReport{Header: NewHeader(KindPIIAccess, v.Revision(), now, opts.From, to)}
	for _, x := range perms {
		f := PIIField{Permission: x, Roles: []PIIRole{}, Views: []PIIViews{}}
		for _, r := range model.Roles {
			if slices.Contains(p.RolePermissions(r.ID), x) {
				f.Roles = append(f.Roles, PIIRole{Role: r.ID, Label: r.Labels["en"], LabelFR: r.Labels["fr"]})
			}
		}
		holders, err := holdersOf(model.Grants, p, ms, x, now)
		if err != nil {
			return PIIAccessReport{}, fmt.Errorf("reports: pii access: %w", err)
		}
		f.Holders = holders
		if f.Holders == nil {
			f.Holders = []AccessEntry{}
		}
		rep.Fields = append(rep.Fields, f)
	}
	rep.count(p, events, opts.From, to, now)
	return rep, nil
}

// count adds the pii.viewed events in [from, to) to the fields.
func (rep *PIIAccessReport) count(p *rbac.Policy, events []iam.Event, from, to, now time.Time) {
	type key struct {
		perm  iam.Permission
		role  iam.RoleID
		field string
	}
	counts := map[key]int{}
	viewers := map[key]map[iam.Subject]bool{}
	seen := map[string]bool{}
	roleOf := map[[3]string]iam.RoleID{}
	for _, e := range events {
		if e.Type != iam.EventPIIViewed || (!from.IsZero() && e.Time.Before(from)) || !e.Time.Before(to) {
			continue
		}
		if e.ID != "" {
			if seen[e.ID] {
				continue
			}
			seen[e.ID] = true
		}
		perm := iam.Permission(e.Detail["permission"])
		if !slices.ContainsFunc(rep.Fields, func(f PIIField) bool { return f.Permission == perm }) {
			continue
		}
		scope := iam.Scope(e.Detail["scope"])
		rk := [3]string{string(e.Subject), string(perm), string(scope)}
		role, ok := roleOf[rk]
		if !ok {
			role = viaRole(p, e.Subject, perm, scope, now)
			roleOf[rk] = role
		}
		k := key{perm, role, e.Detail["field"]}
		counts[k]++
		if viewers[k] == nil {
			viewers[k] = map[iam.Subject]bool{}
		}
		viewers[k][e.Subject] = true
	}
	for k, n := range counts {
		i := slices.IndexFunc(rep.Fields, func(f PIIField) bool { return f.Permission == k.perm })
		rep.Fields[i].Views = append(rep.Fields[i].Views, PIIViews{Role: k.role, Field: k.field, Views: n, Viewers: len(viewers[k])})
	}
	for i := range rep.Fields {
		sort.Slice(rep.Fields[i].Views, func(a, b int) bool {
			x, y := rep.Fields[i].Views[a], rep.Fields[i].Views[b]
			if x.Role != y.Role {
				return x.Role < y.Role
			}
			return x.Field < y.Field
		})
	}
}

// viaRole returns the granted role through which sub holds perm at scope
// (any scope of its grants when scope is empty or malformed), or "".
func viaRole(p *rbac.Policy, sub iam.Subject, perm iam.Permission, scope iam.Scope, now time.Time) iam.RoleID {
	if sub.Validate() != nil {
		return ""
	}
	scopes := []iam.Scope{scope}
	if scope.Validate() != nil {
		scopes = []iam.Scope{iam.OrgScope}
	}
	for _, s := range scopes {
		ex, err := p.Explain(sub, perm, s, now)
		if err != nil || !ex.Allowed {
			continue
		}
		for _, st := range ex.Decisive {
			if st.Kind == rbac.StepRole {
				return iam.RoleID(st.Name)
			}
		}
	}
	return ""
}

// PIICSVHeader and PIICSVHeaderFR are the column headers of the CSV export.
var (
	PIICSVHeader   = []string{"permission", "record", "role", "role_label", "subject", "scope", "path", "field", "views", "viewers"}
	PIICSVHeaderFR = []string{"permission", "ligne", "rôle", "libellé_rôle", "personne", "portée", "chemin", "champ", "consultations", "personnes"}
)

// WriteCSV writes the review as one table: for each permission a "role"
// row per role holding it, a "holder" row per person or group with the
// path, and a "views" row per role and field; then the [Header] as
// "evidence" rows. lang "fr" writes French column names and role labels
// (English where a role has none); anything else writes English.
func (r PIIAccessReport) WriteCSV(w io.Writer, lang string) error {
	head := PIICSVHeader
	if lang == "fr" {
		head = PIICSVHeaderFR
	}
	rows := [][]string{head}
	for _, f := range r.Fields {
		x := string(f.Permission)
		for _, ro := range f.Roles {
			label := ro.Label
			if lang == "fr" && ro.LabelFR != "" {
				label = ro.LabelFR
			}
			rows = append(rows, []string{x, "role", string(ro.Role), label, "", "", "", "", "", ""})
		}
		for _, h := range f.Holders {
			rows = append(rows, []string{x, "holder", pathRole(h.Path), "", string(h.Subject), string(h.Scope), pathText(h.Path), "", "", ""})
		}
		for _, v := range f.Views {
			rows = append(rows, []string{x, "views", string(v.Role), "", "", "", "", v.Field, strconv.Itoa(v.Views), strconv.Itoa(v.Viewers)})
		}
	}
	rows = append(rows, r.Header.rows(len(head))...)
	if err := csvsafe.Write(w, rows); err != nil {
		return fmt.Errorf("reports: pii access csv: %w", err)
	}
	return nil
}

func pathRole(p iam.Path) string {
	for _, st := range p {
		if st.Kind == rbac.StepRole {
			return st.Name
		}
	}
	return ""
}

type piiHolderJSON struct {
	Subject string `json:"subject"`
	Scope   string `json:"scope"`
	Role    string `json:"role,omitempty"`
	Path    string `json:"path"`
}

type piiFieldJSON struct {
	Permission string          `json:"permission"`
	Roles      []PIIRole       `json:"roles"`
	Holders    []piiHolderJSON `json:"holders"`
	Views      []PIIViews      `json:"views"`
}

type piiJSON struct {
	V      int            `json:"v"`
	Header Header         `json:"header"`
	Kind   string         `json:"kind"`
	Fields []piiFieldJSON `json:"fields"`
}

func (r PIIAccessReport) doc() piiJSON {
	doc := piiJSON{V: SchemaVersion, Header: r.Header, Kind: KindPIIAccess, Fields: []piiFieldJSON{}}
	for _, f := range r.Fields {
		fj := piiFieldJSON{Permission: string(f.Permission), Roles: f.Roles, Views: f.Views, Holders: []piiHolderJSON{}}
		for _, h := range f.Holders {
			fj.Holders = append(fj.Holders, piiHolderJSON{Subject: string(h.Subject), Scope: string(h.Scope), Role: pathRole(h.Path), Path: pathText(h.Path)})
		}
		doc.Fields = append(doc.Fields, fj)
	}
	return doc
}

// MarshalJSON encodes the report as the document [PIIAccessReport.WriteJSON]
// writes.
func (r PIIAccessReport) MarshalJSON() ([]byte, error) { return json.Marshal(r.doc()) }

// WriteJSON writes the review as one JSON document (schema version 1,
// kind "pii.access"): v, header, kind, and fields (permission, roles,
// holders with subject, scope, role and path, views per role and field).
func (r PIIAccessReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.doc()); err != nil {
		return fmt.Errorf("reports: pii access json: %w", err)
	}
	return nil
}
