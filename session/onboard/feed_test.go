package onboard_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/onboard"
	"github.com/civic-platform/security/session/signin"
)

const header = "Employee ID,Given Name,Family Name,Email,Position,Department,Manager,Start Date,Language\n"

const feedCSV = header +
	"E1042,Julie,Tremblay,julie.tremblay@lakeview.ca,Bylaw Officer,bylaw,E0007,2026-12-01,fr\n" +
	"E2001,Sam,Okafor,sam.okafor@lakeview.ca,Purchasing Agent,finance,,2026-12-01,en\n" +
	"\"E3001\",\"Zoë\",\"O'Brien, Jr.\",zoe@lakeview.ca,\"Planner\",parks,,,\n"

func TestParseCSV(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{"plain": feedCSV, "BOM": "\uFEFF" + feedCSV, "CRLF": strings.ReplaceAll(feedCSV, "\n", "\r\n")} {
		feed, err := onboard.ParseCSV(strings.NewReader(in), 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(feed.Records) != 3 || feed.Records[0].EmployeeID != "E1042" || feed.Records[2].FamilyName != "O'Brien, Jr." ||
			!feed.Records[0].StartDate.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || feed.Lines[2] != 4 || feed.Records[0].Language != "fr" {
			t.Fatalf("%s: feed = %+v", name, feed)
		}
	}
	// Columns in another order, extra columns ignored, optional ones absent.
	feed, err := onboard.ParseCSV(strings.NewReader("department,cost_centre,email,position,family_name,given_name,employee_id\nbylaw,CC-1,a@lakeview.ca,Clerk,B,A,E9\n"), 0)
	if err != nil || len(feed.Records) != 1 || feed.Records[0].Department != "bylaw" || feed.Records[0].Language != "en" {
		t.Fatalf("reordered: %+v %v", feed, err)
	}
	// A header alone is an empty feed.
	if feed, err := onboard.ParseCSV(strings.NewReader(header), 0); err != nil || len(feed.Records) != 0 {
		t.Fatalf("header only: %+v %v", feed, err)
	}
}

func TestParseCSVErrors(t *testing.T) {
	t.Parallel()
	row := "E1,Ann,Lee,ann@lakeview.ca,Clerk,bylaw,,,\n"
	tests := []struct {
		name  string
		in    string
		want  error
		lines []string // each must appear in the error
	}{
		{"empty", "", onboard.ErrInvalidInput, []string{"line 1", "empty"}},
		{"missing column", "employee_id,email\nE1,a@b.ca\n", onboard.ErrInvalidInput, []string{"given_name"}},
		{"duplicate column", "employee_id,Employee ID,given_name,family_name,email,position,department\n", onboard.ErrInvalidInput, []string{"twice"}},
		{"bare quote", header + row + "E2,An\"n,Lee,x@lakeview.ca,Clerk,bylaw,,,\n", onboard.ErrInvalidInput, []string{"line 3"}},
		{"unterminated quote", header + row + "E2,\"Ann,Lee,x@lakeview.ca,Clerk,bylaw,,,\n", onboard.ErrInvalidInput, []string{"line 3"}},
		{"wrong field count", header + row + "E2,Ann\n", onboard.ErrInvalidInput, []string{"line 3"}},
		{"bad date", header + "E2,Ann,Lee,x@lakeview.ca,Clerk,bylaw,,01/12/2026,\n", onboard.ErrInvalidInput, []string{"line 2", "start date"}},
		{"date with time", header + "E2,Ann,Lee,x@lakeview.ca,Clerk,bylaw,,2026-12-01T00:00:00Z,\n", onboard.ErrInvalidInput, []string{"line 2"}},
		{"CRLF in a quoted name", header + "E2,\"Ann\r\nBcc: x@y.z\",Lee,x@lakeview.ca,Clerk,bylaw,,,\n", onboard.ErrInvalidInput, []string{"line 2", "given name"}},
		{"duplicate employee id", header + row + "e1,Bob,Lee,bob@lakeview.ca,Clerk,bylaw,,,\n", onboard.ErrInvalidInput, []string{"line 3", "also on line 2"}},
		{"duplicate email", header + row + "E2,Bob,Lee,ANN@lakeview.ca,Clerk,bylaw,,,\n", onboard.ErrInvalidInput, []string{"line 3", "also on line 2"}},
		{"several bad rows", header + "E1,,Lee,a@lakeview.ca,Clerk,bylaw,,,\n" + row + "E3,Ann,Lee,not-an-email,Clerk,bylaw,,,\n", onboard.ErrInvalidInput, []string{"line 2", "line 4"}},
		{"UTF-16", "\xff\xfee\x00m\x00", onboard.ErrInvalidInput, []string{"UTF-16"}},
		{"SQL in a field", header + "E2,Ann,Lee,x@lakeview.ca,Clerk,\"bylaw'; DROP TABLE iam_users;--\",,,\n", onboard.ErrInvalidInput, []string{"line 2", "department"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := onboard.ParseCSV(strings.NewReader(tt.in), 0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			for _, l := range tt.lines {
				if !strings.Contains(err.Error(), l) {
					t.Errorf("error %q does not mention %q", err, l)
				}
			}
		})
	}
}

// endless is an HR feed that never ends; it counts what was read.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x' // one line that never ends
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestParseCSVIsBounded(t *testing.T) {
	t.Parallel()
	// A stream that would be 100 MB or more: refused once the bound is
	// passed, never read whole.
	src := &endless{}
	_, err := onboard.ParseCSV(io.MultiReader(strings.NewReader(header), src), 1<<20)
	if !errors.Is(err, onboard.ErrTooLarge) || !errors.Is(err, onboard.ErrInvalidInput) {
		t.Fatalf("err = %v", err)
	}
	if src.n > 2<<20 {
		t.Fatalf("read %d bytes of an endless feed with a 1 MiB bound", src.n)
	}
	// A 100 MB file is refused before a byte is read.
	path := filepath.Join(t.TempDir(), "hr.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(100 << 20); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = onboard.ParseCSV(f, 0)
	if !errors.Is(err, onboard.ErrTooLarge) {
		t.Fatalf("100 MB file: %v", err)
	}
	if off, _ := f.Seek(0, io.SeekCurrent); off != 0 || time.Since(start) > 2*time.Second {
		t.Fatalf("read %d bytes of the 100 MB file in %v", off, time.Since(start))
	}
}

func parse(t *testing.T, in string) onboard.Feed {
	t.Helper()
	feed, err := onboard.ParseCSV(strings.NewReader(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	return feed
}

func TestFeedDryRunAndApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	// Someone already here who will move, and someone who will leave.
	for _, rec := range []onboard.Record{
		{EmployeeID: "E1042", GivenName: "Julie", FamilyName: "Tremblay", Email: "julie.tremblay@lakeview.ca", Position: "Clerk", Department: "parks", Language: "fr"},
		{EmployeeID: "E0500", GivenName: "Old", FamilyName: "Timer", Email: "old.timer@lakeview.ca", Position: "Clerk", Department: "parks"},
	} {
		if _, err := h.svc.Onboard(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	feed := parse(t, feedCSV)
	rev := h.authz.Revision()
	mails := len(h.mail.sent())
	d, err := h.svc.Plan(ctx, feed, onboard.PlanOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Joiners) != 2 || len(d.Movers) != 1 || len(d.Leavers) != 1 || d.Leavers[0].EmployeeID != "E0500" ||
		d.Movers[0].Revoke[0].Role != "clerk" || d.Movers[0].Assign[0].Role != "bylaw-officer" {
		t.Fatalf("diff = %+v", d)
	}
	var text bytes.Buffer
	if err := d.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"joiners 2, movers 1", "~ mover E1042", "revoke clerk at dept:parks", "assign bylaw-officer at dept:bylaw from 2026-12-01", "- leaver E0500"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("diff text lacks %q:\n%s", want, text.String())
		}
	}
	if h.authz.Revision() != rev || len(h.mail.sent()) != mails {
		t.Fatal("a dry run wrote something")
	}
	if _, err := h.users.User(ctx, "e2001"); !errors.Is(err, signin.ErrNotFound) {
		t.Fatal("a dry run created a user")
	}

	res, err := h.svc.ApplyFeed(ctx, feed, onboard.PlanOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	// Joiners and movers in one change, then the leaver's offboarding.
	if res.Revision != rev+1 || res.Welcomes != 2 || len(res.Offboarded) != 1 || h.authz.Revision() != rev+2 {
		t.Fatalf("result = %+v, revision %d -> %d", res, rev, h.authz.Revision())
	}
	if u, _ := h.users.User(ctx, "e0500"); u.Status != signin.StatusOffboarded {
		t.Fatalf("leaver status = %s", u.Status)
	}
	for _, id := range []string{"e2001", "e3001", "e1042"} {
		if u, err := h.users.User(ctx, id); err != nil || u.Status != signin.StatusActive {
			t.Fatalf("%s: %+v %v", id, u, err)
		}
	}
	// The same feed again changes nothing.
	d, err = h.svc.Plan(ctx, feed, onboard.PlanOptions{Full: true})
	if err != nil || len(d.Joiners)+len(d.Movers)+len(d.Leavers)+len(d.Updated) != 0 || d.Unchanged != 3 {
		t.Fatalf("second plan = %+v %v", d, err)
	}
}

func TestFeedWithErrorsAppliesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := cityModel()
	m.Grants = []rbac.Grant{{Subject: "user:e2001", Role: "finance-director", Scope: "org", Reason: "acting director"}}
	h := newHarness(t, m)
	rev := h.authz.Revision()
	for name, tt := range map[string]struct {
		in   string
		want error
		text string
	}{
		"unknown position":   {feedCSV + "E4,Ann,Lee,ann@lakeview.ca,Chief Happiness Officer,bylaw,,,\n", onboard.ErrUnknownPosition, "line 5"},
		"unknown department": {feedCSV + "E4,Ann,Lee,ann@lakeview.ca,Clerk,roads,,,\n", onboard.ErrUnknownDepartment, "line 5"},
		// E2001 already holds finance-director: purchasing-agent conflicts.
		"SoD with existing roles": {feedCSV, onboard.ErrConflict, "po-create-approve"},
	} {
		feed := parse(t, tt.in)
		_, err := h.svc.ApplyFeed(ctx, feed, onboard.PlanOptions{})
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s: err = %v", name, err)
		}
		if h.authz.Revision() != rev || len(h.mail.sent()) != 0 {
			t.Fatalf("%s: a refused feed wrote something", name)
		}
		if _, err := h.users.User(ctx, "e1042"); !errors.Is(err, signin.ErrNotFound) {
			t.Fatalf("%s: a refused feed created a user", name)
		}
	}
}

// FuzzParseCSV holds the parser to its promises on any input: it never
// panics, every accepted record is normalised (no control characters, a
// plain address, a valid department), and every error is ErrInvalidInput.
func FuzzParseCSV(f *testing.F) {
	f.Add([]byte(feedCSV))
	f.Add([]byte("\uFEFF" + feedCSV))
	f.Add([]byte(header + "E1,\"A\r\nB\",C,d@e.ca,Clerk,bylaw,,,\n"))
	f.Add([]byte(header + "E1,A\"B,C,d@e.ca,Clerk,bylaw,,,\n"))
	f.Add([]byte("\xff\xfe"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		feed, err := onboard.ParseCSV(bytes.NewReader(data), 1<<16)
		if err != nil {
			if !errors.Is(err, onboard.ErrInvalidInput) {
				t.Fatalf("error not ErrInvalidInput: %v", err)
			}
			return
		}
		for _, r := range feed.Records {
			n, err := r.Normalize()
			if err != nil {
				t.Fatalf("accepted record does not normalise: %+v: %v", r, err)
			}
			if n.DisplayName() != r.DisplayName() || n.Email != r.Email {
				t.Fatalf("accepted record not normalised: %+v", r)
			}
			if strings.ContainsAny(r.DisplayName()+r.Email+r.Position, "\r\n\x00") {
				t.Fatalf("control character accepted: %+v", r)
			}
		}
	})
}
