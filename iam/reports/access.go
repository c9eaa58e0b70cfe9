package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/civic-platform/security/internal/csvsafe"

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

// AccessReviewReport is who may use one permission, and through which
// path, with the [Header] saying what it evidences.
type AccessReviewReport struct {
	Header     Header
	Permission iam.Permission
	Entries    []AccessEntry
}

// AccessReview answers "who holds perm, through which path" across the
// whole organisation: every subject (users, service accounts, and the
// groups and units that hold grants) that may use perm at the view's
// instant at the scope of one of the grants reaching it, with the path
// that allows it. It scans every grant of the view; use it for reviews,
// not per request.
func AccessReview(v *iam.View, perm iam.Permission) (AccessReviewReport, error) {
	if err := v.Err(); err != nil {
		return AccessReviewReport{}, fmt.Errorf("reports: access review: %w", err)
	}
	if err := perm.Validate(); err != nil {
		return AccessReviewReport{}, fmt.Errorf("reports: access review: %w", err)
	}
	out, err := holdersOf(v.Model().Grants, v.Policy(), newMembers(v.Policy()), perm, v.At())
	if err != nil {
		return AccessReviewReport{}, fmt.Errorf("reports: access review: %w", err)
	}
	return AccessReviewReport{Header: NewHeader(KindAccessReview, v.Revision(), v.At(), time.Time{}, time.Time{}),
		Permission: perm, Entries: out}, nil
}

type accessEntryJSON struct {
	Subject    string `json:"subject"`
	Scope      string `json:"scope"`
	Permission string `json:"permission,omitempty"`
	Path       string `json:"path"`
}

type accessReviewJSON struct {
	V          int               `json:"v"`
	Header     Header            `json:"header"`
	Kind       string            `json:"kind"`
	Permission string            `json:"permission"`
	Entries    []accessEntryJSON `json:"entries"`
}

func (r AccessReviewReport) doc() accessReviewJSON {
	d := accessReviewJSON{V: SchemaVersion, Header: r.Header, Kind: KindAccessReview, Permission: string(r.Permission), Entries: []accessEntryJSON{}}
	for _, e := range r.Entries {
		d.Entries = append(d.Entries, accessEntryJSON{Subject: string(e.Subject), Scope: string(e.Scope), Path: pathText(e.Path)})
	}
	return d
}

// WriteJSON writes the report as one JSON document (kind
// "access.review"): {"v":1,"header":{…},"kind":…,"permission":…,"entries":[…]}.
func (r AccessReviewReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.doc()); err != nil {
		return fmt.Errorf("reports: access review json: %w", err)
	}
	return nil
}

// MarshalJSON encodes the report as the document
// [AccessReviewReport.WriteJSON] writes.
func (r AccessReviewReport) MarshalJSON() ([]byte, error) { return json.Marshal(r.doc()) }

// WriteCSV writes one row per holder (subject, scope, permission, path),
// then the [Header] as "evidence" rows.
func (r AccessReviewReport) WriteCSV(w io.Writer) error {
	rows := [][]string{{"subject", "scope", "permission", "path"}}
	for _, e := range r.Entries {
		rows = append(rows, []string{string(e.Subject), string(e.Scope), string(r.Permission), pathText(e.Path)})
	}
	rows = append(rows, r.Header.rows(len(rows[0]))...)
	if err := csvsafe.Write(w, rows); err != nil {
		return fmt.Errorf("reports: access review csv: %w", err)
	}
	return nil
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

// RemovalReport is who would lose what if one rule were removed from a
// role, with the [Header] saying what it evidences.
type RemovalReport struct {
	Header     Header
	Role       iam.RoleID
	Permission iam.Permission
	Losses     []Loss
}

type removalJSON struct {
	V          int               `json:"v"`
	Header     Header            `json:"header"`
	Kind       string            `json:"kind"`
	Role       string            `json:"role"`
	Permission string            `json:"permission"`
	Losses     []accessEntryJSON `json:"losses"`
}

func (r RemovalReport) doc() removalJSON {
	d := removalJSON{V: SchemaVersion, Header: r.Header, Kind: KindRemovalDryRun, Role: string(r.Role), Permission: string(r.Permission), Losses: []accessEntryJSON{}}
	for _, l := range r.Losses {
		d.Losses = append(d.Losses, accessEntryJSON{Subject: string(l.Subject), Scope: string(l.Scope), Permission: string(l.Permission), Path: pathText(l.Path)})
	}
	return d
}

// WriteJSON writes the report as one JSON document (kind
// "access.removal_dry_run"): {"v":1,"header":{…},"kind":…,"role":…,
// "permission":…,"losses":[…]}.
func (r RemovalReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.doc()); err != nil {
		return fmt.Errorf("reports: dry run json: %w", err)
	}
	return nil
}

// MarshalJSON encodes the report as the document [RemovalReport.WriteJSON]
// writes.
func (r RemovalReport) MarshalJSON() ([]byte, error) { return json.Marshal(r.doc()) }

// WriteCSV writes one row per loss (subject, scope, permission, path),
// then the [Header] as "evidence" rows.
func (r RemovalReport) WriteCSV(w io.Writer) error {
	rows := [][]string{{"subject", "scope", "permission", "path"}}
	for _, l := range r.Losses {
		rows = append(rows, []string{string(l.Subject), string(l.Scope), string(l.Permission), pathText(l.Path)})
	}
	rows = append(rows, r.Header.rows(len(rows[0]))...)
	if err := csvsafe.Write(w, rows); err != nil {
		return fmt.Errorf("reports: dry run csv: %w", err)
	}
	return nil
}

// DryRunRemove reports who would lose what if the allow rule perm (exact
// or wildcard, as written in the role) were removed from role — through
// the role itself, roles that inherit it, groups and units — without
// changing anything. It compiles the view's model with that one rule
// removed and compares the two policies' decisions, each made by rbac. A
// role that does not exist, or does not have the rule, wraps
// [iam.ErrNotFound].
func DryRunRemove(v *iam.View, role iam.RoleID, perm iam.Permission) (RemovalReport, error) {
	if err := v.Err(); err != nil {
		return RemovalReport{}, fmt.Errorf("reports: dry run: %w", err)
	}
	m := v.Model()
	i := slices.IndexFunc(m.Roles, func(r iam.Role) bool { return r.ID == role })
	if i < 0 {
		return RemovalReport{}, fmt.Errorf("reports: dry run: %w", &rbac.NotFoundError{Kind: "role", Name: string(role)})
	}
	if !slices.Contains(m.Roles[i].Permissions, perm) {
		return RemovalReport{}, fmt.Errorf("reports: dry run: %w", &rbac.NotFoundError{Kind: "rule", Name: string(perm) + " in role " + string(role)})
	}
	before := v.Policy()
	next := m.Clone()
	next.Roles[i].Permissions = slices.DeleteFunc(next.Roles[i].Permissions, func(x iam.Permission) bool { return x == perm })
	if !perm.IsWildcard() {
		next.Permissions = append(next.Permissions, perm) // keep the rule's permission known
	}
	after, err := rbac.Compile(next)
	if err != nil {
		return RemovalReport{}, fmt.Errorf("reports: dry run: %w", err)
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
			return RemovalReport{}, fmt.Errorf("reports: dry run: %w", err)
		}
		for _, h := range was {
			if !after.Allows(h.Subject, x, h.Scope, now) {
				out = append(out, Loss{Subject: h.Subject, Scope: h.Scope, Permission: x, Path: h.Path})
			}
		}
	}
	return RemovalReport{Header: NewHeader(KindRemovalDryRun, v.Revision(), now, time.Time{}, time.Time{}),
		Role: role, Permission: perm, Losses: out}, nil
}
