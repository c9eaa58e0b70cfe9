package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/csvsafe"
)

// ComplianceReport lists every violation of a conflict rule present in the
// policy: those enforcement refused to create never appear, so a report
// with no open violations is the evidence that enforcement holds. It also
// lists violations that predate their rule and waived ones (shown as
// waived, with who approved, why and until when).
//
// Its JSON form is the document [ComplianceReport.WriteJSON] writes.
type ComplianceReport struct {
	// Header says what the report evidences (see [Header]).
	Header     Header
	At         time.Time
	Revision   int64
	Rules      []iam.ConflictRule
	Violations []iam.Violation
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

// Compliance reports the violations of the conflict rules in the policy
// of v, at the view's instant. It scans every principal; over 10,000 users
// it takes milliseconds.
func Compliance(v *iam.View) (ComplianceReport, error) {
	if err := v.Err(); err != nil {
		return ComplianceReport{}, fmt.Errorf("reports: compliance: %w", err)
	}
	p, now := v.Policy(), v.At()
	return ComplianceReport{Header: NewHeader(KindCompliance, v.Revision(), now, time.Time{}, time.Time{}),
		At: now, Revision: v.Revision(), Rules: p.Conflicts(), Violations: p.Violations(now)}, nil
}

// WriteCSV writes one row per violation with a header row, then the
// report's [Header] as "evidence" rows. status is "violation" or
// "waived".
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
	rows = append(rows, r.header().rows(len(rows[0]))...)
	if err := csvsafe.Write(w, rows); err != nil {
		return fmt.Errorf("reports: compliance csv: %w", err)
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
	Header     Header          `json:"header"`
	Kind       string          `json:"kind"`
	At         time.Time       `json:"at"`
	Revision   int64           `json:"revision"`
	Rules      []ruleJSON      `json:"rules"`
	Summary    map[string]int  `json:"summary"`
	Violations []violationJSON `json:"violations"`
}

// WriteJSON writes the report as one JSON document (schema version 1, kind
// "sod.compliance"): {"v":1,"header":{…},"kind":"sod.compliance","at":…,"revision":…,
// "rules":[…],"summary":{"violations":N,"waived":M},"violations":[…]}.
func (r ComplianceReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.doc()); err != nil {
		return fmt.Errorf("reports: compliance json: %w", err)
	}
	return nil
}

// MarshalJSON encodes the report as the document
// [ComplianceReport.WriteJSON] writes.
func (r ComplianceReport) MarshalJSON() ([]byte, error) { return json.Marshal(r.doc()) }

func (r ComplianceReport) doc() complianceJSON {
	doc := complianceJSON{V: 1, Header: r.header(), Kind: KindCompliance, At: r.At.UTC(), Revision: r.Revision, Rules: []ruleJSON{}, Violations: []violationJSON{},
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
	return doc
}

// header returns r.Header, or for a report built by hand the header its
// kind, revision and instant give.
func (r ComplianceReport) header() Header {
	if r.Header.Report != "" {
		return r.Header
	}
	return NewHeader(KindCompliance, r.Revision, r.At, time.Time{}, time.Time{})
}
