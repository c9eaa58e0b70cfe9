package iam_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/masking"
)

// SharedPermit is a record whose applicant part is held by pointer, so two
// permits can share one.
type SharedPermit struct {
	ID         string `iam:"key" abac:"id"`
	Ward       string `abac:"ward"`
	Department string `abac:"department"`
	Applicant  *Applicant
	SIN        *masking.SIN `iam:"permits.applicant.sin.view" mask:"sin"`
	Phone      *string      `iam:"permits.applicant.phone.view" mask:"phone"`
	Notes      any
	Party      *Party
}

// Party can point at another party, so a walk must track it (cycles).
type Party struct {
	Email string `iam:"permits.applicant.email.view" mask:"email"`
	Next  *Party
}

// TestRecordMaskerSharedParts checks that a part shared by two records (an
// applicant, a SIN, a phone held by pointer, or the same values in an
// interface) is hidden in the record the caller may not see, whichever
// record comes first, through every RecordMasker entry point.
func TestRecordMaskerSharedParts(t *testing.T) {
	t.Parallel()
	_, rm, _, _ := newRecordMasker(t)
	ctx := context.Background()
	// user:wes holds the applicant permissions in ward 1 only (not in
	// ward 3, and the SIN is denied in building).
	build := func(seenFirst bool) []SharedPermit {
		sin := mustSIN(t, "046454286")
		phone := "613-555-0199"
		app := &Applicant{Email: "jane@example.ca"}
		notes := &Applicant{Email: "jane@example.ca"}
		party := &Party{Email: "jane@example.ca"} // its type can form cycles
		ok := SharedPermit{ID: "p1", Ward: "1", Department: "planning", Applicant: app, SIN: &sin, Phone: &phone, Notes: notes, Party: party}
		no := SharedPermit{ID: "p4", Ward: "3", Department: "building", Applicant: app, SIN: &sin, Phone: &phone, Notes: notes, Party: party}
		if seenFirst {
			return []SharedPermit{ok, no}
		}
		return []SharedPermit{no, ok}
	}
	hidden := func(p SharedPermit) []string {
		var leaks []string
		if p.Applicant != nil && p.Applicant.Email == "jane@example.ca" {
			leaks = append(leaks, "applicant email")
		}
		if n, _ := p.Notes.(*Applicant); n != nil && n.Email == "jane@example.ca" {
			leaks = append(leaks, "notes email")
		}
		if p.Party != nil && p.Party.Email == "jane@example.ca" {
			leaks = append(leaks, "party email")
		}
		if p.SIN != nil && p.SIN.Plain() != "" {
			leaks = append(leaks, "SIN")
		}
		if p.Phone != nil && *p.Phone == "613-555-0199" {
			leaks = append(leaks, "phone")
		}
		return leaks
	}
	for _, first := range []bool{true, false} {
		ps := build(first)
		if err := rm.Mask(ctx, "user:wes", &ps); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.ID == "p4" {
				if l := hidden(p); len(l) > 0 {
					t.Errorf("Mask (allowed record first = %v): p4 in ward 3 shows %v", first, l)
				}
			}
		}
		cp, err := rm.MaskCopy(ctx, "user:wes", build(first))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range cp.([]SharedPermit) {
			if p.ID == "p4" {
				if l := hidden(p); len(l) > 0 {
					t.Errorf("MaskCopy (allowed record first = %v): p4 in ward 3 shows %v", first, l)
				}
			}
		}
		b, err := rm.Marshal(ctx, "user:wes", build(first))
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		for _, p := range out {
			if p["ID"] == "p4" {
				if s, _ := json.Marshal(p); strings.Contains(string(s), "jane@") || strings.Contains(string(s), "046454286") || strings.Contains(string(s), "555-0199") {
					t.Errorf("Marshal (allowed record first = %v): p4 in ward 3 is %s", first, s)
				}
			}
		}
	}
}

// TestRecordJSONRevealEveryEntryPoint checks that every JSON entry point
// that decides per record (Masker.MarshalRecords, Masker.WriteJSONRecords,
// RecordMasker.Marshal, RecordMasker.WriteJSON) writes the digits of
// exactly the SINs the subject may see on their records, and the mask for
// the others.
func TestRecordJSONRevealEveryEntryPoint(t *testing.T) {
	t.Parallel()
	a, rm, sc, _ := newRecordMasker(t)
	mk, err := a.Masker(iam.MaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for sub, shown := range map[iam.Subject]int{"user:ann": 6, "user:wes": 2, "user:eve": 2, "user:bob": 0, "user:nobody": 0} {
		outs := map[string]string{}
		b, err := mk.MarshalRecords(ctx, sub, sc, permits(t))
		if err != nil {
			t.Fatal(err)
		}
		outs["Masker.MarshalRecords"] = string(b)
		var w1, w2 bytes.Buffer
		if err := mk.WriteJSONRecords(ctx, &w1, sub, sc, permits(t)); err != nil {
			t.Fatal(err)
		}
		outs["Masker.WriteJSONRecords"] = w1.String()
		if b, err = rm.Marshal(ctx, sub, permits(t)); err != nil {
			t.Fatal(err)
		}
		outs["RecordMasker.Marshal"] = string(b)
		if err := rm.WriteJSON(ctx, &w2, sub, permits(t)); err != nil {
			t.Fatal(err)
		}
		outs["RecordMasker.WriteJSON"] = w2.String()
		for name, out := range outs {
			if got := strings.Count(out, `"SIN":"046454286"`); got != shown {
				t.Errorf("%s for %s shows %d SINs, want %d: %s", name, sub, got, shown, out)
			}
			if got := strings.Count(out, `"SIN":"`+masking.SINMask+`"`); got != 6-shown {
				t.Errorf("%s for %s masks %d SINs, want %d", name, sub, got, 6-shown)
			}
		}
	}
}
