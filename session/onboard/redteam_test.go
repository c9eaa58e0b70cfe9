package onboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/session/onboard"
)

// Position titles as HR systems write them: typographic apostrophes,
// non-breaking and repeated spaces, dashes of every kind, case.
func TestPositionTitleSpellings(t *testing.T) {
	t.Parallel()
	p, err := onboard.DefaultPositions()
	if err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{
		"Agente d\u2019application des règlements municipaux",
		"AGENTE D'APPLICATION DES RÈGLEMENTS MUNICIPAUX",
		"Agente d\u02bcapplication des règlements municipaux",
		"  bylaw\u00a0officer ",
		"By\u2011law Officer", "By\u2013law Officer", "By\u2010law Officer",
		"Agente de la re\u0301glementation", // decomposed accent
		"Agente d'application des reglements municipaux",
	} {
		if rs, ok := p.Roles(title); !ok || len(rs) != 1 || rs[0] != "bylaw-officer" {
			t.Errorf("Roles(%q) = %v, %v; want bylaw-officer", title, rs, ok)
		}
	}
	for _, title := range []string{
		"Bylaw Оfficer", // Cyrillic O
		"Bylaw Officer\u200b",
		"Bylaw Officers",
		"Bylaw-Officer!",
	} {
		if rs, ok := p.Roles(title); ok {
			t.Errorf("Roles(%q) = %v; want no match", title, rs)
		}
	}
}

func TestOffboardTwiceAndUnknown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cityModel())
	ctx := context.Background()
	if _, err := h.svc.Onboard(ctx, bylawOfficer()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Offboard(ctx, "E1042", "left"); err != nil {
		t.Fatal(err)
	}
	rep, err := h.svc.Offboard(ctx, "E1042", "left")
	if err != nil || len(rep.Grants) != 0 {
		t.Fatalf("second offboarding: %+v, %v", rep, err)
	}
	for _, id := range []string{"E9999", "e1042x", "", "E1042\r\nBcc: x", strings.Repeat("9", 65)} {
		if _, err := h.svc.Offboard(ctx, id, "left"); !errors.Is(err, onboard.ErrNotFound) && !errors.Is(err, onboard.ErrInvalidInput) {
			t.Errorf("Offboard(%q): %v", id, err)
		}
	}
}

// The offboarding report and the HR feed's diff say what they evidence.
func TestOffboardAndFeedCarryAHeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cityModel())
	ctx := context.Background()
	feed, err := onboard.ParseCSV(strings.NewReader("employee_id,given_name,family_name,email,position,department\nE1042,Julie,Tremblay,julie@lakeview.ca,Bylaw Officer,bylaw\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.svc.Plan(ctx, feed, onboard.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, rev, _ := h.store.LoadPolicy(ctx)
	if d.V != reports.SchemaVersion || d.Header.Report != reports.KindHRFeed || len(d.Header.Controls) == 0 || d.Header.PolicyRevision != rev || !d.Header.GeneratedAt.Equal(noon) {
		t.Errorf("diff header: v %d, %+v", d.V, d.Header)
	}
	var buf bytes.Buffer
	if err := d.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		V      int            `json:"v"`
		Header reports.Header `json:"header"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc.V != reports.SchemaVersion || doc.Header.Report != reports.KindHRFeed {
		t.Errorf("diff JSON: %+v, %v\n%s", doc, err, buf.String())
	}
	res, err := h.svc.ApplyFeed(ctx, feed, onboard.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := h.svc.Offboard(ctx, "E1042", "left")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Header.Report != reports.KindOffboarding || len(rep.Header.Controls) == 0 || rep.Header.PolicyRevision != rep.Revision ||
		rep.Revision <= res.Revision || rep.Header.Title == "" || rep.Header.TitleFR == "" {
		t.Errorf("offboarding header %+v (revision %d, feed %d)", rep.Header, rep.Revision, res.Revision)
	}
}

// A bilingual HR system's French export, with a BOM, CRLF line ends and
// its columns in another order.
func TestParseCSVFrenchHeader(t *testing.T) {
	t.Parallel()
	in := "\ufeffCourriel,Prénom,Nom,Matricule,Poste,Service,Langue,Date de début\r\n" +
		"julie@lakeview.ca,Julie,Tremblay,E1042,Agente d’application des règlements municipaux,bylaw,fr,2026-12-01\r\n"
	f, err := onboard.ParseCSV(strings.NewReader(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 1 || f.Records[0].EmployeeID != "E1042" || f.Records[0].GivenName != "Julie" || f.Records[0].FamilyName != "Tremblay" ||
		f.Records[0].Language != "fr" || f.Records[0].StartDate.Day() != 1 || f.Lines[0] != 2 {
		t.Fatalf("%+v", f)
	}
	// A column named in both languages is one column named twice.
	if _, err := onboard.ParseCSV(strings.NewReader("employee_id,matricule,given_name,family_name,email,position,department\n"), 0); !errors.Is(err, onboard.ErrInvalidInput) {
		t.Fatalf("employee id twice: %v", err)
	}
}
