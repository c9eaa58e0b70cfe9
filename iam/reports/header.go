package reports

import (
	"slices"
	"strconv"
	"time"
)

// SchemaVersion is the version of the JSON form of every report's
// [Header] and document. It changes only when a field changes meaning or
// is removed; new fields may appear within a version.
const SchemaVersion = 1

// Report kinds: the "kind" of each JSON document and the "report" of its
// header.
const (
	KindCompliance      = "sod.compliance"
	KindCertification   = "access.certification"
	KindEmergencyReview = "emergency.review"
	KindPIIAccess       = "pii.access"
	KindAccessReview    = "access.review"
	KindRemovalDryRun   = "access.removal_dry_run"
	KindOffboarding     = "user.offboarding"
	KindHRFeed          = "hr.feed"
)

// Control is one control of a framework that a report is evidence for.
type Control struct {
	Framework string `json:"framework"` // "SOC 2", "NIST CSF 2.0", "ISO/IEC 27001:2022", a statute
	ID        string `json:"id"`        // "CC6.3", "PR.AA-05", "A.5.18"
	// What says what in the report supports the control.
	What string `json:"what"`
}

// String returns "framework id (what)".
func (c Control) String() string { return c.Framework + " " + c.ID + " (" + c.What + ")" }

// Header says what a report evidences: which report it is, the controls
// it supports, the period it covers, the policy revision it was read at,
// and when and by whom it was generated. Every report carries one; JSON
// documents have it under "header", CSV exports as trailing "evidence"
// rows (so the first row stays the column header).
type Header struct {
	SchemaVersion int    `json:"schema_version"`
	Report        string `json:"report"`
	// Title names the report in English and French.
	Title   string `json:"title"`
	TitleFR string `json:"title_fr"`
	// Controls are the controls the report is evidence for.
	Controls []Control `json:"controls"`
	// PeriodFrom and PeriodTo bound what the report covers; a report of
	// the policy as it stands has both at GeneratedAt.
	PeriodFrom time.Time `json:"period_from"`
	PeriodTo   time.Time `json:"period_to"`
	// PolicyRevision is the revision of the policy the report read.
	PolicyRevision int64     `json:"policy_revision"`
	GeneratedAt    time.Time `json:"generated_at"`
	// GeneratedBy names who asked for the report (a subject or a person's
	// name); the caller sets it.
	GeneratedBy string `json:"generated_by,omitempty"`
}

var (
	soc2 = func(id, what string) Control { return Control{"SOC 2", id, what} }
	nist = func(id, what string) Control { return Control{"NIST CSF 2.0", id, what} }
	iso  = func(id, what string) Control { return Control{"ISO/IEC 27001:2022", id, what} }
)

// controls maps each report to the controls it really supports: a
// control is listed only where the report is the evidence an auditor
// tests it with.
var controls = map[string][]Control{
	KindCompliance: {
		soc2("CC6.1", "logical access is restricted: conflicting access is refused when assigned"),
		soc2("CC6.3", "access is granted by role with segregation of duties; every standing violation is listed"),
		nist("PR.AA-05", "access permissions incorporate separation of duties"),
		iso("A.5.3", "segregation of duties: conflicting roles, waivers with approver and expiry"),
		iso("A.5.15", "access control rules are enforced"),
	},
	KindCertification: {
		soc2("CC6.2", "access is reviewed by the department's manager, who confirms or removes it"),
		soc2("CC6.3", "access granted by role, with its scope, window and reason"),
		nist("PR.AA-05", "access permissions are reviewed"),
		iso("A.5.15", "access control: who holds what in the department"),
		iso("A.5.18", "access rights are reviewed at regular intervals"),
	},
	KindEmergencyReview: {
		soc2("CC6.3", "break-glass access is time-bound and removed at the end of its window"),
		soc2("CC7.2", "every action under emergency access is monitored and reviewed after the incident"),
		nist("PR.AA-05", "privileged access is managed and reviewed"),
		iso("A.8.2", "privileged access rights: granted for a window, used, ended"),
		iso("A.5.18", "temporary access rights are removed"),
	},
	KindAccessReview: {
		soc2("CC6.2", "access to a permission is reviewed: every holder and the path that gives it"),
		soc2("CC6.3", "access is granted by role; the path shows the role, group or unit behind each holder"),
		nist("PR.AA-05", "access permissions are managed and reviewed"),
		iso("A.5.15", "access control: who may use the permission, where"),
		iso("A.5.18", "access rights are reviewed"),
	},
	KindRemovalDryRun: {
		soc2("CC6.3", "a change to a role's access is assessed before it is made: who would lose what"),
		nist("PR.AA-05", "access permissions are managed"),
		iso("A.5.15", "access control rules are changed with their effect known"),
		iso("A.5.18", "access rights are modified deliberately"),
	},
	KindOffboarding: {
		soc2("CC6.2", "a leaver's access is removed: account disabled, every grant and membership revoked"),
		soc2("CC6.3", "access removed on termination, temporary and emergency grants included"),
		nist("PR.AA-01", "identities and credentials of leavers are revoked: sessions ended, API keys revoked"),
		iso("A.5.16", "identity management: the identity is disabled when the person leaves"),
		iso("A.5.18", "access rights are removed upon termination"),
		iso("A.8.5", "secure authentication: the leaver's sessions and keys are refused"),
	},
	KindHRFeed: {
		soc2("CC6.2", "accounts are provisioned and removed from the HR record: joiners, movers, leavers"),
		soc2("CC6.3", "access is granted by position through role templates, checked for segregation of duties"),
		nist("PR.AA-01", "identities are managed from the authoritative HR record"),
		iso("A.5.16", "identity management: the full life cycle of identities"),
		iso("A.5.18", "access rights are provisioned, changed on a move and removed on leaving"),
	},
	KindPIIAccess: {
		soc2("CC6.1", "access to personal information is restricted to the roles that need it"),
		soc2("CC6.3", "field-level access to personal information is granted by role and reviewed"),
		nist("PR.AA-05", "access to personal data is defined, managed and reviewed"),
		iso("A.5.15", "access control for personal information fields"),
		iso("A.5.18", "access rights to personal information are reviewed"),
		iso("A.5.34", "privacy and protection of PII: who may see each field, who did"),
		{"PIPEDA", "Principle 4.7", "safeguards: access to personal information is limited and its use recorded"},
		{"MFIPPA", "s. 31-32", "use and disclosure of personal information by employees who need it"},
	},
}

var titles = map[string][2]string{
	KindCompliance:      {"Segregation of duties compliance", "Conformité à la séparation des tâches"},
	KindCertification:   {"Access certification", "Certification des accès"},
	KindEmergencyReview: {"Emergency access review", "Revue des accès d'urgence"},
	KindPIIAccess:       {"Personal information field access review", "Revue des accès aux champs de renseignements personnels"},
	KindAccessReview:    {"Access review", "Revue des accès"},
	KindRemovalDryRun:   {"Access removal dry run", "Simulation du retrait d'un accès"},
	KindOffboarding:     {"Offboarding", "Départ d'un employé"},
	KindHRFeed:          {"HR feed: joiners, movers and leavers", "Flux RH : arrivées, mutations et départs"},
}

// Controls returns the controls a report of the given kind is evidence
// for (nil for an unknown kind).
func Controls(kind string) []Control { return slices.Clone(controls[kind]) }

// NewHeader returns the header of a report of kind read at revision at
// instant at, covering [from, to] (both zero: the instant at).
func NewHeader(kind string, revision int64, at, from, to time.Time) Header {
	if from.IsZero() && to.IsZero() {
		from, to = at, at
	}
	t := titles[kind]
	return Header{SchemaVersion: SchemaVersion, Report: kind, Title: t[0], TitleFR: t[1], Controls: Controls(kind),
		PeriodFrom: from.UTC(), PeriodTo: to.UTC(), PolicyRevision: revision, GeneratedAt: at.UTC()}
}

// rows returns the header as CSV rows "evidence,<name>,<value>", each
// padded to width cells so that the export stays one rectangular table.
func (h Header) rows(width int) [][]string {
	width = max(width, 3)
	row := func(k, v string) []string {
		r := make([]string, width)
		r[0], r[1], r[2] = "evidence", k, v
		return r
	}
	out := [][]string{
		row("report", h.Report), row("title", h.Title), row("title_fr", h.TitleFR),
		row("schema_version", strconv.Itoa(h.SchemaVersion)),
		row("period_from", timeCell(h.PeriodFrom)), row("period_to", timeCell(h.PeriodTo)),
		row("policy_revision", strconv.FormatInt(h.PolicyRevision, 10)),
		row("generated_at", timeCell(h.GeneratedAt)), row("generated_by", h.GeneratedBy),
	}
	for _, c := range h.Controls {
		out = append(out, row("control", c.String()))
	}
	return out
}
