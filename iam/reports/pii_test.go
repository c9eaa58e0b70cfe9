package reports_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

func piiView(t *testing.T, at time.Time) *iam.View {
	t.Helper()
	m := rbac.Model{
		Roles: []rbac.Role{
			{ID: "crm-agent", Labels: map[string]string{"en": "CRM Agent", "fr": "Agent du CRM"}, Permissions: []rbac.Permission{"crm.citizen.read", "crm.citizen.email.view"}},
			{ID: "crm-supervisor", Inherits: []rbac.RoleID{"crm-agent"}, Permissions: []rbac.Permission{"crm.citizen.sin.view"}},
			{ID: "it-admin", Permissions: []rbac.Permission{"it.*"}, Deny: []rbac.Permission{"crm.citizen.sin.view"}},
		},
		Members: []rbac.Membership{{Member: "user:ana", Group: "group:supervisors"}},
		Grants: []rbac.Grant{
			{Subject: "user:bob", Role: "crm-agent", Scope: "org"},
			{Subject: "group:supervisors", Role: "crm-supervisor", Scope: "org"},
			{Subject: "user:ivan", Role: "it-admin", Scope: "org"},
		},
	}
	authz, err := iam.New(context.Background(), iamtest.NewStore(m), iam.WithClock(iamtest.Clock(at)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { authz.Close() })
	return authz.View()
}

func viewed(id string, at time.Time, sub iam.Subject, perm, field string) iam.Event {
	return iam.Event{ID: id, Type: iam.EventPIIViewed, Time: at, Subject: sub, Detail: map[string]string{"permission": perm, "field": field, "scope": "org"}}
}

func TestPIIAccess(t *testing.T) {
	t.Parallel()
	noon := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	v := piiView(t, noon)
	day := 24 * time.Hour
	events := []iam.Event{
		viewed("1", noon.Add(-2*day), "user:ana", "crm.citizen.sin.view", "SIN"),
		viewed("2", noon.Add(-2*day), "user:ana", "crm.citizen.sin.view", "SIN"),
		viewed("2", noon.Add(-2*day), "user:ana", "crm.citizen.sin.view", "SIN"), // a duplicate delivery
		viewed("3", noon.Add(-day), "user:bob", "crm.citizen.email.view", "Email"),
		viewed("4", noon.Add(-day), "user:ana", "crm.citizen.email.view", "Email"),
		viewed("5", noon.Add(-40*day), "user:ana", "crm.citizen.sin.view", "SIN"), // before the period
		{ID: "6", Type: "role.assigned", Time: noon.Add(-day), Subject: "user:bob"},
	}
	rep, err := reports.PIIAccess(v, events, reports.PIIOptions{From: noon.Add(-30 * day)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Fields) != 2 || rep.Fields[0].Permission != "crm.citizen.email.view" || rep.Fields[1].Permission != "crm.citizen.sin.view" {
		t.Fatalf("fields = %+v", rep.Fields)
	}
	sin := rep.Fields[1]
	if len(sin.Roles) != 1 || sin.Roles[0].Role != "crm-supervisor" {
		t.Errorf("roles holding the SIN = %+v", sin.Roles)
	}
	holders := map[iam.Subject]string{}
	for _, h := range sin.Holders {
		holders[h.Subject] = h.Path.String()
	}
	if _, ok := holders["user:ivan"]; ok || !strings.Contains(holders["user:ana"], "group:supervisors") || len(holders) != 2 {
		t.Errorf("SIN holders = %v (ana through her group, the group itself, never the IT admin)", holders)
	}
	if len(sin.Views) != 1 || sin.Views[0].Role != "crm-supervisor" || sin.Views[0].Views != 2 || sin.Views[0].Viewers != 1 {
		t.Errorf("SIN views = %+v", sin.Views)
	}
	email := rep.Fields[0]
	if len(email.Roles) != 2 || len(email.Views) != 2 || email.Views[0].Role != "crm-agent" || email.Views[1].Role != "crm-supervisor" {
		t.Errorf("email = %+v", email)
	}
	h := rep.Header
	if h.Report != reports.KindPIIAccess || h.SchemaVersion != 1 || !h.PeriodFrom.Equal(noon.Add(-30*day)) || !h.PeriodTo.Equal(noon) ||
		h.PolicyRevision != v.Revision() || !h.GeneratedAt.Equal(noon) {
		t.Errorf("header = %+v", h)
	}
	var ids []string
	for _, c := range h.Controls {
		ids = append(ids, c.ID)
	}
	for _, want := range []string{"CC6.1", "CC6.3", "PR.AA-05", "A.5.15", "A.5.18", "A.5.34"} {
		if !strings.Contains(strings.Join(ids, " "), want) {
			t.Errorf("controls %v lack %s", ids, want)
		}
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		V      int            `json:"v"`
		Kind   string         `json:"kind"`
		Header reports.Header `json:"header"`
		Fields []struct {
			Permission string `json:"permission"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.V != 1 || doc.Kind != "pii.access" || doc.Header.SchemaVersion != 1 || len(doc.Fields) != 2 {
		t.Fatalf("json: %v %+v\n%s", err, doc, js.String())
	}
	for _, lang := range []string{"en", "fr"} {
		var b bytes.Buffer
		if err := rep.WriteCSV(&b, lang); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatalf("%s: unreadable CSV: %v", lang, err)
		}
		text := b.String()
		if lang == "fr" && (rows[0][1] != "ligne" || !strings.Contains(fmtRows(rows), "Agent du CRM")) {
			t.Errorf("French CSV:\n%s", text)
		}
		if !strings.Contains(fmtRows(rows), "evidence,control,ISO/IEC 27001:2022 A.5.34") {
			t.Errorf("%s: no evidence rows:\n%s", lang, fmtRows(rows))
		}
	}
}

func fmtRows(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	return b.String()
}

func TestPIIAccessBadInput(t *testing.T) {
	t.Parallel()
	noon := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	v := piiView(t, noon)
	for name, o := range map[string]reports.PIIOptions{
		"malformed permission": {Permissions: []iam.Permission{"crm.citizen.sin.view'; DROP"}},
		"wildcard":             {Permissions: []iam.Permission{"crm.*"}},
		"period backwards":     {From: noon, To: noon.Add(-time.Hour)},
	} {
		if _, err := reports.PIIAccess(v, nil, o); !errors.Is(err, rbac.ErrInvalidInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Hostile event details are counted as text and neutralised in CSV.
	rep, err := reports.PIIAccess(v, []iam.Event{viewed("x", noon.Add(-time.Hour), "user:ana", "crm.citizen.sin.view", "=HYPERLINK(\"http://x\")")}, reports.PIIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkCSV(t, "pii", func(b *bytes.Buffer) error { return rep.WriteCSV(b, "en") }, []string{"=HYPERLINK(\"http://x\")"})
}

func TestEveryReportCarriesAHeader(t *testing.T) {
	t.Parallel()
	noon := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	v := piiView(t, noon)
	comp, err := reports.Compliance(v)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := reports.Certification(v, "dept:parks")
	if err != nil {
		t.Fatal(err)
	}
	rv := reports.EmergencyReview(nil, iam.Activation{Subject: "user:ana", Role: "eoc", Scope: "org", From: noon.Add(-time.Hour), Until: noon, Revision: 7})
	pii, err := reports.PIIAccess(v, nil, reports.PIIOptions{From: noon.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	review, err := reports.AccessReview(v, "crm.citizen.sin.view")
	if err != nil {
		t.Fatal(err)
	}
	dry, err := reports.DryRunRemove(v, "crm-supervisor", "crm.citizen.sin.view")
	if err != nil {
		t.Fatal(err)
	}
	if len(review.Entries) == 0 || len(dry.Losses) == 0 || review.Permission != "crm.citizen.sin.view" || dry.Role != "crm-supervisor" {
		t.Fatalf("review %+v, dry run %+v", review, dry)
	}
	for _, h := range []reports.Header{review.Header, dry.Header} {
		if h.PolicyRevision != v.Revision() || !h.GeneratedAt.Equal(noon) || !h.PeriodFrom.Equal(noon) || !h.PeriodTo.Equal(noon) {
			t.Errorf("header %+v: want revision %d at %v", h, v.Revision(), noon)
		}
	}
	for _, tt := range []struct {
		kind  string
		h     reports.Header
		write func(*bytes.Buffer) error
		json  func(*bytes.Buffer) error
	}{
		{reports.KindCompliance, comp.Header, func(b *bytes.Buffer) error { return comp.WriteCSV(b) }, func(b *bytes.Buffer) error { return comp.WriteJSON(b) }},
		{reports.KindCertification, cert.Header, func(b *bytes.Buffer) error { return cert.WriteCSV(b) }, func(b *bytes.Buffer) error { return cert.WriteJSON(b) }},
		{reports.KindEmergencyReview, rv.Header, func(b *bytes.Buffer) error { return rv.WriteCSV(b) }, func(b *bytes.Buffer) error { return rv.WriteJSON(b) }},
		{reports.KindPIIAccess, pii.Header, func(b *bytes.Buffer) error { return pii.WriteCSV(b, "en") }, func(b *bytes.Buffer) error { return pii.WriteJSON(b) }},
		{reports.KindAccessReview, review.Header, func(b *bytes.Buffer) error { return review.WriteCSV(b) }, func(b *bytes.Buffer) error { return review.WriteJSON(b) }},
		{reports.KindRemovalDryRun, dry.Header, func(b *bytes.Buffer) error { return dry.WriteCSV(b) }, func(b *bytes.Buffer) error { return dry.WriteJSON(b) }},
	} {
		if tt.h.Report != tt.kind || len(tt.h.Controls) == 0 || tt.h.SchemaVersion != 1 || tt.h.Title == "" || tt.h.TitleFR == "" {
			t.Errorf("%s: header %+v", tt.kind, tt.h)
		}
		var c, j bytes.Buffer
		if err := tt.write(&c); err != nil {
			t.Fatal(err)
		}
		if _, err := csv.NewReader(bytes.NewReader(c.Bytes())).ReadAll(); err != nil || !strings.Contains(c.String(), "evidence,report,"+tt.kind) {
			t.Errorf("%s: csv %v\n%s", tt.kind, err, c.String())
		}
		if err := tt.json(&j); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			V      int            `json:"v"`
			Header reports.Header `json:"header"`
		}
		if err := json.Unmarshal(j.Bytes(), &doc); err != nil || doc.V != reports.SchemaVersion || doc.Header.Report != tt.kind ||
			doc.Header.SchemaVersion != reports.SchemaVersion || len(doc.Header.Controls) != len(tt.h.Controls) {
			t.Errorf("%s: json header %+v %v", tt.kind, doc.Header, err)
		}
	}
	if rv.Header.PolicyRevision != 7 || !rv.Header.PeriodFrom.Equal(noon.Add(-time.Hour)) || !rv.Header.PeriodTo.Equal(noon) {
		t.Errorf("review header %+v", rv.Header)
	}
	if reports.Controls("no.such.report") != nil {
		t.Error("controls for an unknown report")
	}
}
