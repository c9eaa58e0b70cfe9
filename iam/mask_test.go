package iam_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/masking"
	"github.com/civic-platform/security/rbac"
)

// Citizen is a CRM record as a service returns it.
type Citizen struct {
	ID    string      `iam:"key"`
	Name  string      //
	SIN   masking.SIN `iam:"crm.citizen.sin.view" mask:"sin"`
	Email string      `iam:"crm.citizen.email.view" mask:"email"`
}

// A payroll processor sees a citizen's SIN and the view is recorded; a clerk
// sees the mask.
func ExampleMasker_Mask() {
	ctx := context.Background()
	store := iamtest.NewStore(rbac.Model{
		Roles: []rbac.Role{
			{ID: "crm-clerk", Permissions: []rbac.Permission{"crm.citizen.read", "crm.citizen.email.view"}},
			{ID: "payroll-processor", Inherits: []rbac.RoleID{"crm-clerk"}, Permissions: []rbac.Permission{"crm.citizen.sin.view"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:clara", Role: "crm-clerk", Scope: "org"},
			{Subject: "user:pat", Role: "payroll-processor", Scope: "org"},
		},
	})
	audit := iam.AuditFunc(func(_ context.Context, e iam.Event) error {
		fmt.Printf("  audit: %s %s %s key=%s\n", e.Type, e.Subject, e.Detail["field"], e.Detail["key"])
		return nil
	})
	authz, err := iam.New(ctx, store, iam.WithAuditSink(audit))
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	defer authz.Close()
	masker, err := authz.Masker(iam.MaskOptions{})
	if err != nil {
		fmt.Println("masker:", err)
		return
	}

	sin, err := masking.ParseSIN("046 454 286")
	if err != nil {
		fmt.Println("sin:", err)
		return
	}
	for _, sub := range []iam.Subject{"user:clara", "user:pat"} {
		c := Citizen{ID: "c-1001", Name: "Jane Roe", SIN: sin, Email: "jane.roe@example.ca"}
		if err := masker.Mask(ctx, sub, "org", &c); err != nil {
			fmt.Println("mask:", err)
			return
		}
		fmt.Printf("%s: SIN %q, digits %q\n", sub, c.SIN, c.SIN.Plain())
	}
	// Output:
	//   audit: pii.viewed user:clara Email key=c-1001
	// user:clara: SIN "***-***-***", digits ""
	//   audit: pii.viewed user:pat SIN key=c-1001
	//   audit: pii.viewed user:pat Email key=c-1001
	// user:pat: SIN "***-***-***", digits "046454286"
}

func maskCity() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:social"}, {Scope: "dept:roads"}},
		Roles: []rbac.Role{
			{ID: "crm-clerk", Permissions: []rbac.Permission{"crm.citizen.read"}},
			{ID: "sin-viewer", Inherits: []rbac.RoleID{"crm-clerk"}, Permissions: []rbac.Permission{"crm.citizen.sin.view", "crm.citizen.email.view"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:clara", Role: "crm-clerk", Scope: "org"},
			{Subject: "user:pat", Role: "sin-viewer", Scope: "org"},
			{Subject: "user:sam", Role: "sin-viewer", Scope: "dept:social"},
		},
	}
}

func newMasker(t testing.TB, m rbac.Model) (*iam.Authorizer, *iam.Masker, *iamtest.Recorder) {
	t.Helper()
	rec := &iamtest.Recorder{}
	a, err := iam.New(context.Background(), iamtest.NewStore(m), iam.WithAuditSink(rec), iam.WithClock(iamtest.Clock(dsNoon)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	mk, err := a.Masker(iam.MaskOptions{})
	if err != nil {
		t.Fatalf("Masker: %v", err)
	}
	return a, mk, rec
}

func mustSIN(t testing.TB, s string) masking.SIN {
	t.Helper()
	sin, err := masking.ParseSIN(s)
	if err != nil {
		t.Fatalf("ParseSIN: %v", err)
	}
	return sin
}

// storedCitizen is a record whose SIN column is kept as text, as legacy
// tables do: what is stored may be malformed.
type storedCitizen struct {
	Key  int64  `iam:"key"`
	SIN  string `iam:"crm.citizen.sin.view" mask:"sin"`
	Next *storedCitizen
	Kin  []*storedCitizen
}

func TestMaskSIN(t *testing.T) {
	t.Parallel()
	a, mk, rec := newMasker(t, maskCity())
	ctx := context.Background()
	sin := mustSIN(t, "046-454-286")

	tests := []struct {
		name   string
		sub    iam.Subject
		scope  iam.Scope
		shown  bool
		events int
	}{
		{"clerk", "user:clara", "org", false, 0},
		{"holder", "user:pat", "org", true, 2},
		{"holder at their department", "user:sam", "dept:social", true, 2},
		{"holder elsewhere", "user:sam", "dept:roads", false, 0},
		{"unknown subject", "user:nobody", "org", false, 0},
	}
	for _, tt := range tests {
		before := len(rec.Events())
		c := Citizen{ID: "c-7", SIN: sin, Email: "jane@example.ca"}
		if err := mk.Mask(ctx, tt.sub, tt.scope, &c); err != nil {
			t.Fatalf("%s: Mask: %v", tt.name, err)
		}
		if got := c.SIN.Plain() == "046454286"; got != tt.shown {
			t.Errorf("%s: SIN shown = %v, want %v", tt.name, got, tt.shown)
		}
		if fmt.Sprint(c.SIN) != masking.SINMask {
			t.Errorf("%s: SIN prints as %q", tt.name, fmt.Sprint(c.SIN))
		}
		if !tt.shown && (c.SIN.Plain() != "" || c.Email == "jane@example.ca") {
			t.Errorf("%s: not masked: %+v %q", tt.name, c, c.SIN.Plain())
		}
		evs := rec.Events()[before:]
		if len(evs) != tt.events {
			t.Fatalf("%s: %d events, want %d: %+v", tt.name, len(evs), tt.events, evs)
		}
		for _, e := range evs {
			if e.Type != iam.EventPIIViewed || e.Subject != tt.sub || e.Time.IsZero() || e.Revision != a.Revision() ||
				e.Detail["key"] != "c-7" || e.Detail["scope"] != string(tt.scope) || e.ID == "" {
				t.Errorf("%s: event %+v", tt.name, e)
			}
		}
		if tt.events > 0 && (evs[0].Detail["field"] != "SIN" || evs[0].Detail["permission"] != "crm.citizen.sin.view" ||
			evs[1].Detail["field"] != "Email" || evs[1].Detail["permission"] != "crm.citizen.email.view") {
			t.Errorf("%s: event details %v, %v", tt.name, evs[0].Detail, evs[1].Detail)
		}
	}
}

func TestMaskMalformedStoredSIN(t *testing.T) {
	t.Parallel()
	_, mk, rec := newMasker(t, maskCity())
	ctx := context.Background()
	for _, stored := range []string{"", "1", "046 454 287", "0464542861234", "abc-def-ghi", "046-454-286", "' OR 1=1 --", "\x00\xff", "٠٤٦٤٥٤٢٨٦"} {
		c := storedCitizen{Key: 1, SIN: stored}
		if err := mk.Mask(ctx, "user:clara", "org", &c); err != nil {
			t.Fatalf("Mask(%q): %v", stored, err)
		}
		if c.SIN != masking.SINMask {
			t.Errorf("stored %q renders %q, want exactly %q", stored, c.SIN, masking.SINMask)
		}
	}
	if n := len(rec.Events()); n != 0 {
		t.Errorf("%d events for a clerk", n)
	}
}

func TestMaskNilAndCycles(t *testing.T) {
	t.Parallel()
	_, mk, rec := newMasker(t, maskCity())
	ctx := context.Background()

	a := &storedCitizen{Key: 1, SIN: "046454286"}
	b := &storedCitizen{Key: 2, SIN: "junk", Next: a, Kin: []*storedCitizen{nil, a}}
	a.Next = b // a cycle
	a.Kin = []*storedCitizen{b, nil}
	if err := mk.Mask(ctx, "user:clara", "org", a); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	if a.SIN != masking.SINMask || b.SIN != masking.SINMask {
		t.Errorf("cycle not masked: %q %q", a.SIN, b.SIN)
	}

	a.SIN, b.SIN = "046454286", "junk"
	if err := mk.Mask(ctx, "user:pat", "org", a); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	if evs := rec.Events(); len(evs) != 2 || evs[0].Detail["key"] != "1" || evs[1].Detail["key"] != "2" {
		t.Errorf("events %+v; want one per record, keyed 1 and 2", evs)
	}

	var nilCitizen *Citizen
	for _, v := range []any{nil, nilCitizen, Citizen{}} {
		if err := mk.Mask(ctx, "user:clara", "org", v); !errors.Is(err, masking.ErrInvalidValue) {
			t.Errorf("Mask(%#v) = %v; want ErrInvalidValue", v, err)
		}
	}
	empty := &struct{ C *Citizen }{}
	if err := mk.Mask(ctx, "user:pat", "org", empty); err != nil {
		t.Errorf("nil field: %v", err)
	}
	if b, err := mk.Marshal(ctx, "user:clara", "org", (*Citizen)(nil)); err != nil || string(b) != "null" {
		t.Errorf("Marshal(nil) = %s, %v", b, err)
	}
}

// TestMaskFollowsPolicyChanges checks that a permission removed from a role
// masks the field in the very next call.
func TestMaskFollowsPolicyChanges(t *testing.T) {
	t.Parallel()
	a, mk, rec := newMasker(t, maskCity())
	ctx := context.Background()
	sin := mustSIN(t, "046454286")
	view := func() string {
		t.Helper()
		out, err := iam.Masked(ctx, mk, "user:pat", "org", Citizen{ID: "c-1", SIN: sin})
		if err != nil {
			t.Fatal(err)
		}
		return out.SIN.Plain()
	}
	if got := view(); got != "046454286" {
		t.Fatalf("before: %q", got)
	}
	_, err := iam.AdminOf(a).Apply(ctx, rbac.Change{PutRoles: []rbac.Role{{ID: "sin-viewer", Inherits: []rbac.RoleID{"crm-clerk"}, Permissions: []rbac.Permission{"crm.citizen.email.view"}}}})
	if err != nil {
		t.Fatal(err)
	}
	n := len(rec.Events())
	if got := view(); got != "" {
		t.Errorf("after removal: SIN digits %q still shown", got)
	}
	for _, e := range rec.Events()[n:] {
		if e.Type == iam.EventPIIViewed && e.Detail["permission"] == "crm.citizen.sin.view" {
			t.Errorf("SIN view recorded after removal: %+v", e)
		}
	}
}

func TestMaskCopyMarshalWriteJSON(t *testing.T) {
	t.Parallel()
	_, mk, rec := newMasker(t, maskCity())
	ctx := context.Background()
	c := &Citizen{ID: "c-9", Name: "Jane", SIN: mustSIN(t, "046454286"), Email: "jane@example.ca"}

	out, err := mk.MaskCopy(ctx, "user:clara", "org", c)
	if err != nil {
		t.Fatal(err)
	}
	if cp := out.(*Citizen); cp.SIN.Plain() != "" || cp.Email != "j***@example.ca" || c.SIN.Plain() != "046454286" || c.Email != "jane@example.ca" {
		t.Errorf("MaskCopy: copy %+v, original %+v", cp, c)
	}

	b, err := mk.Marshal(ctx, "user:pat", "org", []*Citizen{c, c})
	if err != nil {
		t.Fatal(err)
	}
	// A holder of the permission gets the digits in the response.
	if want := `{"ID":"c-9","Name":"Jane","SIN":"046454286","Email":"jane@example.ca"}`; !strings.Contains(string(b), want) {
		t.Errorf("Marshal = %s", b)
	}
	var fields []string
	for _, e := range rec.Events() {
		fields = append(fields, e.Detail["field"])
	}
	if got := strings.Join(fields, " "); got != "[0].SIN [0].Email [1].SIN [1].Email" {
		t.Errorf("fields viewed: %s", got)
	}

	var w bytes.Buffer
	if err := mk.WriteJSON(ctx, &w, "user:clara", "org", c); err != nil {
		t.Fatal(err)
	}
	if got, want := w.String(), `{"ID":"c-9","Name":"Jane","SIN":"***-***-***","Email":"j***@example.ca"}`+"\n"; got != want {
		t.Errorf("WriteJSON = %q, want %q", got, want)
	}
}

type badTag struct {
	SIN string `iam:"crm.citizen.sin.view" mask:"ssn"`
}

func TestMaskErrors(t *testing.T) {
	t.Parallel()
	a, mk, rec := newMasker(t, maskCity())
	ctx := context.Background()
	c := &Citizen{SIN: mustSIN(t, "046454286")}
	if err := mk.Mask(ctx, "pat", "org", c); !errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("bad subject: %v", err)
	}
	if err := mk.Mask(ctx, "user:pat", "ward 7", c); !errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("bad scope: %v", err)
	}
	if err := mk.Prepare(badTag{}); !errors.Is(err, masking.ErrInvalidTag) {
		t.Errorf("Prepare: %v", err)
	}
	if _, err := mk.Marshal(ctx, "user:pat", "org", badTag{}); !errors.Is(err, masking.ErrInvalidTag) {
		t.Errorf("Marshal bad tag: %v", err)
	}
	if _, err := a.Masker(iam.MaskOptions{Maskers: map[string]masking.Masker{"sin": nil}}); !errors.Is(err, masking.ErrInvalidOptions) {
		t.Errorf("Masker bad options: %v", err)
	}
	a.Close()
	if err := mk.Mask(ctx, "user:pat", "org", c); !errors.Is(err, iam.ErrClosed) {
		t.Errorf("closed: %v", err)
	}
	if c.SIN.Plain() != "046454286" {
		t.Error("a refused call changed the value")
	}
	if n := len(rec.Events()); n != 0 {
		t.Errorf("%d events from failed calls", n)
	}
}

func BenchmarkMask(b *testing.B) {
	ctx := context.Background()
	discard := iam.AuditFunc(func(context.Context, iam.Event) error { return nil })
	a, err := iam.New(ctx, iamtest.NewStore(maskCity()), iam.WithAuditSink(discard))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	mk, err := a.Masker(iam.MaskOptions{})
	if err != nil {
		b.Fatal(err)
	}
	sin := mustSIN(b, "046454286")
	for _, sub := range []iam.Subject{"user:clara", "user:pat"} {
		b.Run(strings.TrimPrefix(string(sub), "user:"), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c := Citizen{ID: "c-1", Name: "Jane", SIN: sin, Email: "jane@example.ca"}
					if err := mk.Mask(ctx, sub, "org", &c); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func TestAuthorizerMaskShorthand(t *testing.T) {
	t.Parallel()
	a, _, rec := newMasker(t, maskCity())
	ctx := context.Background()
	sin := mustSIN(t, "046-454-286")

	c := Citizen{ID: "c-9", SIN: sin, Email: "jane@example.ca"}
	if err := defaultMasker(t, a).Mask(ctx, "user:clara", "org", &c); err != nil {
		t.Fatal(err)
	}
	if c.SIN.Plain() != "" || c.Email == "jane@example.ca" {
		t.Errorf("clerk sees %q, %q", c.SIN.Plain(), c.Email)
	}
	orig := Citizen{ID: "c-9", SIN: sin, Email: "jane@example.ca"}
	before := len(rec.Events())
	cp, err := defaultMasker(t, a).MaskCopy(ctx, "user:pat", "org", orig)
	if err != nil {
		t.Fatal(err)
	}
	if got := cp.(Citizen); got.SIN.Plain() != "046454286" || orig.SIN.Plain() != "046454286" {
		t.Errorf("holder copy %+v, original %+v", got, orig)
	}
	if n := len(rec.Events()) - before; n != 2 {
		t.Errorf("%d pii.viewed events for the holder, want 2", n)
	}
	if err := defaultMasker(t, a).Mask(ctx, "user:clara", "org", c); err == nil {
		t.Error("Mask of a non-pointer succeeded")
	}
}
