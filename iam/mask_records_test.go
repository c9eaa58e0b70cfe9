package iam_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/masking"
	"github.com/civic-platform/security/rbac"
)

// TestMaskerJSONRevealsToHolder checks that a caller who holds the field
// permission gets the digits through the Masker's JSON path, and that every
// other caller, and every other way of encoding, gets the mask.
func TestMaskerJSONRevealsToHolder(t *testing.T) {
	t.Parallel()
	_, mk, _ := newMasker(t, maskCity())
	ctx := context.Background()
	sin := mustSIN(t, "046454286")
	c := Citizen{ID: "c-1", Name: "Jane", SIN: sin, Email: "jane@example.ca"}
	for _, tt := range []struct {
		sub   iam.Subject
		scope iam.Scope
		shown bool
	}{
		{"user:pat", "org", true},
		{"user:sam", "dept:social", true},
		{"user:sam", "dept:roads", false},
		{"user:clara", "org", false},
		{"user:nobody", "org", false},
	} {
		b, err := mk.Marshal(ctx, tt.sub, tt.scope, &c)
		if err != nil {
			t.Fatal(err)
		}
		var w bytes.Buffer
		if err := mk.WriteJSON(ctx, &w, tt.sub, tt.scope, []Citizen{c}); err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{string(b), w.String()} {
			if got := strings.Contains(out, `"SIN":"046454286"`); got != tt.shown {
				t.Errorf("%s at %s: %s (digits shown %v, want %v)", tt.sub, tt.scope, out, got, tt.shown)
			}
			if !tt.shown && !strings.Contains(out, `"SIN":"`+masking.SINMask+`"`) {
				t.Errorf("%s at %s: %s, want the mask", tt.sub, tt.scope, out)
			}
		}
	}
	// The default stays masked: the caller's value, a masked copy for the
	// holder and the value after Marshal all encode as the mask.
	view, err := iam.Masked(ctx, mk, "user:pat", "org", c)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{c, &c, view, c.SIN} {
		b, _ := json.Marshal(v)
		if strings.Contains(string(b), "046454286") {
			t.Errorf("json.Marshal(%T) = %s", v, b)
		}
	}
}

// Permit is a record placed by its ward and department, as CheckRecord
// reads them.
type Permit struct {
	ID         string      `iam:"key" abac:"id"`
	Ward       string      `abac:"ward"`
	Department string      `abac:"department"`
	Owner      string      `abac:"owner"`
	Applicant  Applicant   // part of the permit: decided for it
	SIN        masking.SIN `iam:"permits.applicant.sin.view" mask:"sin"`
	Phone      string      `iam:"permits.applicant.phone.view" mask:"phone"`
}

// Applicant holds no scope field: its fields belong to the enclosing permit.
type Applicant struct {
	Email string `iam:"permits.applicant.email.view" mask:"email"`
}

func permitCity() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:building"}, {Scope: "dept:planning"}, {Scope: "facility:annex", Parent: "dept:building"},
			{Scope: "ward:1"}, {Scope: "ward:2"}, {Scope: "ward:3"},
		},
		Roles: []rbac.Role{
			{ID: "reader", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "pii", Permissions: []rbac.Permission{"permits.applicant.*"}},
			{ID: "sin", Permissions: []rbac.Permission{"permits.applicant.sin.view"}},
			{ID: "no-sin", Deny: []rbac.Permission{"permits.applicant.sin.view"}},
			{ID: "crisis", Emergency: true, Permissions: []rbac.Permission{"permits.applicant.sin.view"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:wes", Role: "pii", Scope: "ward:1"},
			{Subject: "user:wes", Role: "sin", Scope: "dept:planning"},
			{Subject: "user:wes", Role: "no-sin", Scope: "dept:building"},
			{Subject: "user:ann", Role: "pii", Scope: "org"},
			{Subject: "user:bob", Role: "reader", Scope: "org"},
			{Subject: "user:eve", Role: "crisis", Scope: "ward:2", NotBefore: dsNoon.Add(-time.Hour), NotAfter: dsNoon.Add(time.Hour)},
		},
	}
}

func newRecordMasker(t testing.TB) (*iam.Authorizer, *iam.RecordMasker, *iam.Scoper, *iamtest.Recorder) {
	t.Helper()
	rec := &iamtest.Recorder{}
	a, err := iam.New(context.Background(), iamtest.NewStore(permitCity()), iam.WithAuditSink(rec), iam.WithClock(iamtest.Clock(dsNoon)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	sc, err := iam.NewScoper(iam.DataScopes{})
	if err != nil {
		t.Fatal(err)
	}
	rm, err := iam.NewRecordMasker(a, sc, iam.MaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return a, rm, sc, rec
}

func permits(t testing.TB) []Permit {
	sin := mustSIN(t, "046454286")
	mk := func(id, ward, dept string) Permit {
		return Permit{ID: id, Ward: ward, Department: dept, Applicant: Applicant{Email: "jane@example.ca"}, SIN: sin, Phone: "613-555-0199"}
	}
	return []Permit{
		mk("p1", "1", "building"),
		mk("p2", "1", "planning"),
		mk("p3", "2", "planning"),
		mk("p4", "3", "building"),
		mk("p5", "", ""), // unplaced
		mk("p6", "2", "annex"),
	}
}

// TestRecordMaskerPerRecord masks a list of permits in different wards and
// departments for each subject, and checks every field against CheckRecord
// on the same record.
func TestRecordMaskerPerRecord(t *testing.T) {
	t.Parallel()
	a, rm, sc, rec := newRecordMasker(t)
	ctx := context.Background()
	mk, err := a.Masker(iam.MaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[iam.Subject]string{
		// wes: PII in ward 1, SIN in planning, SIN denied in building.
		"user:wes": "p1:-PE p2:SPE p3:S-- p4:--- p5:--- p6:---",
		"user:ann": "p1:SPE p2:SPE p3:SPE p4:SPE p5:SPE p6:SPE",
		"user:bob": "p1:--- p2:--- p3:--- p4:--- p5:--- p6:---",
		"user:eve": "p1:--- p2:--- p3:S-- p4:--- p5:--- p6:S--",
	}
	for sub, w := range want {
		ps := permits(t)
		if err := rm.Mask(ctx, sub, &ps); err != nil {
			t.Fatal(err)
		}
		if got := shownFields(ps); got != w {
			t.Errorf("%s sees %s, want %s", sub, got, w)
		}
		// Each field agrees with CheckRecord on the record.
		for i, p := range permits(t) {
			for _, f := range []struct {
				perm  iam.Permission
				shown bool
			}{
				{"permits.applicant.sin.view", ps[i].SIN.Plain() != ""},
				{"permits.applicant.phone.view", ps[i].Phone == p.Phone},
				{"permits.applicant.email.view", ps[i].Applicant.Email == p.Applicant.Email},
			} {
				d, err := a.CheckRecord(ctx, sub, f.perm, sc, abac.Map{"ward": p.Ward, "department": p.Department, "id": p.ID})
				if err != nil || d.Allowed != f.shown {
					t.Errorf("%s %s %s: shown %v, CheckRecord %+v %v", sub, p.ID, f.perm, f.shown, d, err)
				}
			}
		}
		// The copy and the JSON paths decide the same way.
		cp, err := rm.MaskCopy(ctx, sub, permits(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := shownFields(cp.([]Permit)); got != w {
			t.Errorf("%s MaskCopy: %s, want %s", sub, got, w)
		}
		b, err := rm.Marshal(ctx, sub, permits(t))
		if err != nil {
			t.Fatal(err)
		}
		if got, n := strings.Count(string(b), `"SIN":"046454286"`), strings.Count(w, "S"); got != n {
			t.Errorf("%s Marshal shows %d SINs, want %d: %s", sub, got, n, b)
		}
		// A Masker given the Scoper decides the same way.
		mb, err := mk.MarshalRecords(ctx, sub, sc, permits(t))
		if err != nil || string(mb) != string(b) {
			t.Errorf("%s Masker.MarshalRecords = %s, %v; want %s", sub, mb, err, b)
		}
		ps = permits(t)
		if err := mk.MaskRecords(ctx, sub, sc, &ps); err != nil || shownFields(ps) != w {
			t.Errorf("%s Masker.MaskRecords: %s, %v", sub, shownFields(ps), err)
		}
	}
	// pii.viewed names the record and why it was shown.
	var views []string
	for _, e := range rec.Events() {
		if e.Type == iam.EventPIIViewed && e.Subject == "user:wes" && e.Detail["field"] == "[1].SIN" {
			views = append(views, e.Detail["key"]+" "+e.Detail["reason"])
		}
	}
	if len(views) == 0 || !strings.HasPrefix(views[0], "p2 allowed by role ") {
		t.Errorf("pii.viewed for wes: %q", views)
	}
}

func shownFields(ps []Permit) string {
	var out []string
	for _, p := range ps {
		f := []byte("---")
		if p.SIN.Plain() != "" {
			f[0] = 'S'
		}
		if p.Phone == "613-555-0199" {
			f[1] = 'P'
		}
		if p.Applicant.Email == "jane@example.ca" {
			f[2] = 'E'
		}
		out = append(out, p.ID+":"+string(f))
	}
	return strings.Join(out, " ")
}

// TestRecordMaskerAgreesWithCheckRecord is a randomized agreement test:
// random permits and random grants, every masked field shown exactly when
// CheckRecord allows its permission on its record.
func TestRecordMaskerAgreesWithCheckRecord(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	scopes := []rbac.Scope{"org", "dept:building", "dept:planning", "facility:annex", "ward:1", "ward:2", "ward:3"}
	roles := []rbac.RoleID{"pii", "sin", "no-sin", "reader"}
	wards := []string{"", "1", "2", "3", "9"}
	depts := []string{"", "building", "planning", "annex", "roads"}
	for round := range 20 {
		m := permitCity()
		m.Grants = nil
		seen := map[rbac.Grant]bool{}
		for range 1 + rng.IntN(4) {
			g := rbac.Grant{Subject: "user:x", Role: roles[rng.IntN(len(roles))], Scope: scopes[rng.IntN(len(scopes))]}
			if !seen[g] {
				seen[g] = true
				m.Grants = append(m.Grants, g)
			}
		}
		a, err := iam.New(context.Background(), iamtest.NewStore(m), iam.WithClock(iamtest.Clock(dsNoon)))
		if err != nil {
			t.Fatal(err)
		}
		sc, _ := iam.NewScoper(iam.DataScopes{})
		rm, err := iam.NewRecordMasker(a, sc, iam.MaskOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sin := mustSIN(t, "046454286")
		var ps []Permit
		for i := range 12 {
			ps = append(ps, Permit{ID: fmt.Sprint(i), Ward: wards[rng.IntN(len(wards))], Department: depts[rng.IntN(len(depts))], SIN: sin, Phone: "613-555-0199"})
		}
		orig := append([]Permit(nil), ps...)
		if err := rm.Mask(context.Background(), "user:x", &ps); err != nil {
			t.Fatal(err)
		}
		for i, p := range orig {
			for perm, shown := range map[iam.Permission]bool{
				"permits.applicant.sin.view":   ps[i].SIN.Plain() != "",
				"permits.applicant.phone.view": ps[i].Phone == p.Phone,
			} {
				d, err := a.CheckRecord(context.Background(), "user:x", perm, sc, abac.Map{"ward": p.Ward, "department": p.Department})
				if err != nil || d.Allowed != shown {
					t.Errorf("round %d grants %v: permit %+v %s shown %v, CheckRecord %+v %v", round, m.Grants, p, perm, shown, d, err)
				}
			}
		}
		a.Close()
	}
}

// TestMaskUnderEmergencyIsAudited checks that a field shown because of an
// emergency role emits decision.emergency, through both maskers.
func TestMaskUnderEmergencyIsAudited(t *testing.T) {
	t.Parallel()
	a, rm, _, rec := newRecordMasker(t)
	ctx := context.Background()
	mk, err := a.Masker(iam.MaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		for _, e := range rec.Events() {
			if e.Type == iam.EventEmergency && e.Subject == "user:eve" {
				n++
			}
		}
		return n
	}
	p := permits(t)[2] // ward 2
	before := count()
	if err := mk.Mask(ctx, "user:eve", "ward:2", &p); err != nil {
		t.Fatal(err)
	}
	if p.SIN.Plain() == "" {
		t.Fatal("the emergency role did not show the SIN")
	}
	if count() == before {
		t.Error("Masker: no decision.emergency for a field shown under emergency access")
	}
	before = count()
	b, err := rm.Marshal(ctx, "user:eve", permits(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "046454286") {
		t.Fatalf("RecordMasker did not show the SIN: %s", b)
	}
	if count() == before {
		t.Error("RecordMasker: no decision.emergency for a field shown under emergency access")
	}
}

func TestRecordMaskerErrors(t *testing.T) {
	t.Parallel()
	a, rm, sc, rec := newRecordMasker(t)
	ctx := context.Background()
	if _, err := iam.NewRecordMasker(a, nil, iam.MaskOptions{}); !errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("nil Scoper: %v", err)
	}
	mk, err := a.Masker(iam.MaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk.MarshalRecords(ctx, "user:ann", nil, permits(t)); !errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("Masker with a nil Scoper: %v", err)
	}
	if _, err := iam.NewRecordMasker(a, sc, iam.MaskOptions{Maskers: map[string]masking.Masker{"x": nil}}); !errors.Is(err, masking.ErrInvalidOptions) {
		t.Errorf("bad options: %v", err)
	}
	ps := permits(t)
	if err := rm.Mask(ctx, "ann", &ps); !errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("bad subject: %v", err)
	}
	if err := rm.Mask(ctx, "user:ann", ps); !errors.Is(err, masking.ErrInvalidValue) {
		t.Errorf("non-pointer: %v", err)
	}
	if err := rm.Prepare(badTag{}); !errors.Is(err, masking.ErrInvalidTag) {
		t.Errorf("Prepare: %v", err)
	}
	a.Close()
	if err := rm.Mask(ctx, "user:ann", &ps); !errors.Is(err, iam.ErrClosed) {
		t.Errorf("closed: %v", err)
	}
	if ps[0].SIN.Plain() == "" {
		t.Error("a refused call changed the value")
	}
	if n := len(rec.Events()); n != 0 {
		t.Errorf("%d events from failed calls", n)
	}
}
