package iam_test

import (
	"context"
	"strings"
	"testing"
)

// Inspection is a record of its own, nested in a permit: placed by its own
// ward.
type Inspection struct {
	Ward  string `abac:"ward"`
	Phone string `iam:"permits.applicant.phone.view" mask:"phone"`
}

// Dossier is a permit record holding nested records in every container.
type Dossier struct {
	ID     string `iam:"key" abac:"id"`
	Ward   string `abac:"ward"`
	Phone  string `iam:"permits.applicant.phone.view" mask:"phone"`
	List   []Inspection
	Ptrs   []*Inspection
	ByName map[string]Inspection
	Any    any
	Arr    [1]Inspection
	PP     **Inspection
}

// TestRecordMaskerNestedRecords checks that a record nested in another, in
// a slice, a slice of pointers, a map, an interface, an array or through a
// pointer to a pointer, is decided at its own scope, not its parent's.
func TestRecordMaskerNestedRecords(t *testing.T) {
	t.Parallel()
	_, rm, _, _ := newRecordMasker(t)
	ctx := context.Background()
	const phone = "613-555-0199"
	mk := func(outer, inner string) Dossier {
		in := func() Inspection { return Inspection{Ward: inner, Phone: phone} }
		p := &Inspection{Ward: inner, Phone: phone}
		x := in()
		return Dossier{ID: "d", Ward: outer, Phone: phone, List: []Inspection{in()}, Ptrs: []*Inspection{&x},
			ByName: map[string]Inspection{"a": in()}, Any: in(), Arr: [1]Inspection{in()}, PP: &p}
	}
	inners := func(d Dossier) []Inspection {
		return []Inspection{d.List[0], *d.Ptrs[0], d.ByName["a"], d.Any.(Inspection), d.Arr[0], **d.PP}
	}
	// user:wes may see phones in ward 1 only.
	for _, tt := range []struct{ outer, inner string }{{"1", "3"}, {"3", "1"}, {"1", "1"}, {"3", "3"}, {"1", ""}} {
		for _, via := range []string{"Mask", "MaskCopy"} {
			d := mk(tt.outer, tt.inner)
			if via == "Mask" {
				if err := rm.Mask(ctx, "user:wes", &d); err != nil {
					t.Fatal(err)
				}
			} else {
				cp, err := rm.MaskCopy(ctx, "user:wes", mk(tt.outer, tt.inner))
				if err != nil {
					t.Fatal(err)
				}
				d = cp.(Dossier)
			}
			if got := d.Phone == phone; got != (tt.outer == "1") {
				t.Errorf("%s outer ward %q inner %q: outer phone shown = %v", via, tt.outer, tt.inner, got)
			}
			for i, in := range inners(d) {
				if got := in.Phone == phone; got != (tt.inner == "1") {
					t.Errorf("%s outer ward %q inner %q: nested record %d phone shown = %v", via, tt.outer, tt.inner, i, got)
				}
			}
		}
		b, err := rm.Marshal(ctx, "user:wes", mk(tt.outer, tt.inner))
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if tt.outer == "1" {
			want++
		}
		if tt.inner == "1" {
			want += 6
		}
		if got := strings.Count(string(b), phone); got != want {
			t.Errorf("Marshal outer ward %q inner %q: %d phones shown, want %d: %s", tt.outer, tt.inner, got, want, b)
		}
	}
}
