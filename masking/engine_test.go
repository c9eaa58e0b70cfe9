package masking_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/civic-platform/security/masking"
)

type Contact struct {
	Kind  string
	Email string  `iam:"crm.contact.email.view" mask:"email"`
	Phone *string `iam:"crm.contact.phone.view" mask:"phone"`
}

type Citizen struct {
	ID       string `iam:"key"`
	Name     string
	SIN      masking.SIN `iam:"crm.citizen.sin.view" mask:"sin"`
	SINText  string      `iam:"crm.citizen.sin.view" mask:"sin"`
	DOB      string      `iam:"crm.citizen.dob.view" mask:"dob"`
	Postal   string      `iam:"crm.citizen.address.view" mask:"postal"`
	Notes    string      `mask:"redact"`
	Ward     int         `iam:"crm.citizen.ward.view" mask:"redact" pii:"false"`
	Contacts []Contact
	Spouse   *Citizen
	ByLabel  map[string]Contact
	Extra    any
	secret   string
}

func ptr[T any](v T) *T { return &v }

func mustSIN(t testing.TB, s string) masking.SIN {
	t.Helper()
	sin, err := masking.ParseSIN(s)
	if err != nil {
		t.Fatalf("ParseSIN: %v", err)
	}
	return sin
}

// holding returns a may that holds exactly perms.
func holding(perms ...string) func(string) bool {
	return func(p string) bool { return slices.Contains(perms, p) }
}

// recorder collects views; safe for one goroutine.
type recorder struct{ views []masking.View }

func (r *recorder) viewed(v masking.View) { r.views = append(r.views, v) }

func newCitizen(t testing.TB) *Citizen {
	return &Citizen{
		ID:      "C-1",
		Name:    "Jane Doe",
		SIN:     mustSIN(t, "046 454 286"),
		SINText: "046-454-286",
		DOB:     "1980-04-01",
		Postal:  "k1a 0b1",
		Notes:   "called about snow removal",
		Ward:    7,
		Contacts: []Contact{
			{Kind: "home", Email: "jane@example.ca", Phone: ptr("613-555-1234")},
			{Kind: "work", Email: "j.doe@ottawa.ca"},
		},
		ByLabel: map[string]Contact{"home": {Kind: "home", Email: "jane@example.ca"}},
		secret:  "kept",
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	masked := func(c *Citizen) {
		c.SIN, c.SINText, c.DOB, c.Postal, c.Notes, c.Ward = masking.SIN{}, masking.SINMask, masking.DOBMask, "K1A ***", masking.RedactedMask, 0
		c.Contacts[0].Email, c.Contacts[0].Phone, c.Contacts[1].Email = "j***@example.ca", ptr("***-***-1234"), "j***@ottawa.ca"
		c.ByLabel["home"] = Contact{Kind: "home", Email: "j***@example.ca"}
	}
	tests := []struct {
		name string
		may  func(string) bool
		want func(c *Citizen) // applied to a fresh citizen
	}{
		{name: "nil may masks everything", may: nil, want: masked},
		{name: "holding nothing masks everything", may: holding(), want: masked},
		{name: "sin held", may: holding("crm.citizen.sin.view"), want: func(c *Citizen) {
			sin, text := c.SIN, c.SINText
			masked(c)
			c.SIN, c.SINText = sin, text
		}},
		{name: "contact email held", may: holding("crm.contact.email.view"), want: func(c *Citizen) {
			masked(c)
			c.Contacts[0].Email, c.Contacts[1].Email = "jane@example.ca", "j.doe@ottawa.ca"
			c.ByLabel["home"] = Contact{Kind: "home", Email: "jane@example.ca"}
		}},
		{name: "everything held", may: func(string) bool { return true }, want: func(c *Citizen) {
			c.Notes = masking.RedactedMask // no permission unmasks it
		}},
	}
	eng, err := masking.New(masking.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, want := newCitizen(t), newCitizen(t)
			tt.want(want)
			if err := eng.Mask(got, tt.may, nil); err != nil {
				t.Fatalf("Mask: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Mask:\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestMaskStoredSINAlwaysMask(t *testing.T) {
	t.Parallel()
	type rec struct {
		SIN  string  `iam:"crm.citizen.sin.view" mask:"sin"`
		PSIN *string `iam:"crm.citizen.sin.view" mask:"sin"`
	}
	stored := []string{
		"046454286", "046 454 286", "046-454-286", " 046454286 ",
		"04645428", "0464542860", "046 454 2861", "０４６４５４２８６",
		"", "abcdefghi", "046-454-28X", "046--454286", "***-***-***", "\x00\xff",
	}
	var eng masking.Engine
	for _, s := range stored {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			t.Parallel()
			r := rec{SIN: s, PSIN: ptr(s)}
			if err := eng.Mask(&r, nil, nil); err != nil {
				t.Fatalf("Mask: %v", err)
			}
			if r.SIN != masking.SINMask || *r.PSIN != masking.SINMask {
				t.Errorf("masked %q to %q and %q, want %q", s, r.SIN, *r.PSIN, masking.SINMask)
			}
		})
	}
}

func TestMaskArgumentErrors(t *testing.T) {
	t.Parallel()
	var eng masking.Engine
	var nilCitizen *Citizen
	for _, v := range []any{nil, Citizen{}, nilCitizen, "x", []Citizen{}} {
		t.Run(fmt.Sprintf("%T", v), func(t *testing.T) {
			t.Parallel()
			err := eng.Mask(v, nil, nil)
			var ve *masking.ValueError
			if !errors.Is(err, masking.ErrInvalidValue) || !errors.As(err, &ve) {
				t.Fatalf("Mask(%T) = %v, want a *ValueError", v, err)
			}
		})
	}
	if _, err := eng.MaskCopy(nil, nil, nil); !errors.Is(err, masking.ErrInvalidValue) {
		t.Errorf("MaskCopy(nil) = %v, want ErrInvalidValue", err)
	}
}

func TestMaskNilsInside(t *testing.T) {
	t.Parallel()
	var eng masking.Engine
	c := &Citizen{Contacts: []Contact{{}}, ByLabel: map[string]Contact{}}
	if err := eng.Mask(c, nil, nil); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	if c.Contacts[0].Phone != nil || c.Contacts[0].Email != "" || c.Postal != "" || c.SINText != masking.SINMask {
		t.Errorf("Mask on empty fields = %+v", c)
	}
	// A typed nil pointer in an interface.
	c.Extra = (*Contact)(nil)
	if err := eng.Mask(c, nil, nil); err != nil {
		t.Fatalf("Mask: %v", err)
	}
}

func TestMaskCycles(t *testing.T) {
	t.Parallel()
	var eng masking.Engine
	a, b := newCitizen(t), newCitizen(t)
	a.Spouse, b.Spouse = b, a
	a.Extra = a
	list := []any{nil, Contact{Email: "x@y.ca"}}
	list[0] = list
	b.Extra = list
	m := map[string]any{"c": &Contact{Email: "x@y.ca"}}
	m["self"] = m
	a.Contacts[1].Kind = "loop"
	a.ByLabel = map[string]Contact{"home": {Email: "x@y.ca"}}

	done := make(chan error, 1)
	go func() { done <- eng.Mask(a, nil, nil) }()
	if err := <-done; err != nil {
		t.Fatalf("Mask: %v", err)
	}
	if a.SINText != masking.SINMask || b.SINText != masking.SINMask {
		t.Errorf("cycle members not masked: %q %q", a.SINText, b.SINText)
	}
	if got := list[1].(Contact).Email; got != "x***@y.ca" {
		t.Errorf("interface in slice cycle: Email = %q", got)
	}
	if err := eng.Mask(&m, nil, nil); err != nil {
		t.Fatalf("Mask map cycle: %v", err)
	}
	if got := m["c"].(*Contact).Email; got != "x***@y.ca" {
		t.Errorf("map cycle: Email = %q", got)
	}
	cp, err := masking.Copy(&eng, a, func(string) bool { return true }, nil)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if cp.Spouse.Spouse != cp || cp == a || cp.Spouse == b {
		t.Errorf("Copy did not keep the cycle's shape in new memory")
	}
}

func TestMaskUnexported(t *testing.T) {
	t.Parallel()
	type inner struct {
		Email string `iam:"crm.contact.email.view" mask:"email"`
		note  string
	}
	type outer struct {
		inner          // embedded by value: its exported fields are masked
		hidden Contact // unexported: skipped, not masked
		Public string
	}
	var eng masking.Engine
	o := outer{inner: inner{Email: "a@b.ca", note: "n"}, hidden: Contact{Email: "c@d.ca"}, Public: "p"}
	if err := eng.Mask(&o, nil, nil); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	want := outer{inner: inner{Email: "a***@b.ca", note: "n"}, hidden: Contact{Email: "c@d.ca"}, Public: "p"}
	if o != want {
		t.Errorf("Mask = %+v, want %+v", o, want)
	}
	cp, err := masking.Copy(&eng, o, nil, nil)
	if err != nil || cp != want {
		t.Errorf("Copy = %+v, %v; want %+v", cp, err, want)
	}
}

func TestMaskMapsAndInterfaces(t *testing.T) {
	t.Parallel()
	type rec struct {
		Values  map[string]Contact
		Ptrs    map[int]*Contact
		Emails  map[string]string `iam:"crm.contact.email.view" mask:"email"`
		Phones  []string          `iam:"crm.contact.phone.view" mask:"phone"`
		Fixed   [2]*string        `iam:"crm.contact.phone.view" mask:"phone"`
		Any     any
		AnyPtr  any
		AnyList any
		Nested  [][]Contact
		Deep    map[string][]map[string]Contact
	}
	var eng masking.Engine
	r := rec{
		Values:  map[string]Contact{"a": {Email: "a@x.ca"}},
		Ptrs:    map[int]*Contact{1: {Email: "b@x.ca"}, 2: nil},
		Emails:  map[string]string{"k": "c@x.ca"},
		Phones:  []string{"613 555 0001", "12"},
		Fixed:   [2]*string{ptr("613-555-0002"), nil},
		Any:     Contact{Email: "d@x.ca"},
		AnyPtr:  &Contact{Email: "e@x.ca"},
		AnyList: []Contact{{Email: "f@x.ca"}},
		Nested:  [][]Contact{{{Email: "g@x.ca"}}, nil},
		Deep:    map[string][]map[string]Contact{"k": {{"k": {Email: "h@x.ca"}}}},
	}
	if err := eng.Mask(&r, nil, nil); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	checks := []struct{ got, want string }{
		{r.Values["a"].Email, "a***@x.ca"},
		{r.Ptrs[1].Email, "b***@x.ca"},
		{r.Emails["k"], "c***@x.ca"},
		{r.Phones[0], "***-***-0001"},
		{r.Phones[1], "***-***-****"},
		{*r.Fixed[0], "***-***-0002"},
		{r.Any.(Contact).Email, "d***@x.ca"},
		{r.AnyPtr.(*Contact).Email, "e***@x.ca"},
		{r.AnyList.([]Contact)[0].Email, "f***@x.ca"},
		{r.Nested[0][0].Email, "g***@x.ca"},
		{r.Deep["k"][0]["k"].Email, "h***@x.ca"},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %q, want %q", i, c.got, c.want)
		}
	}
	if r.Ptrs[2] != nil || r.Fixed[1] != nil {
		t.Errorf("nil pointers changed")
	}
}

func TestMaskDoesNotWriteThroughPointers(t *testing.T) {
	t.Parallel()
	var eng masking.Engine
	shared := "613-555-1234"
	c := Contact{Phone: &shared}
	if err := eng.Mask(&c, nil, nil); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	if shared != "613-555-1234" || *c.Phone != "***-***-1234" {
		t.Errorf("shared = %q, *Phone = %q", shared, *c.Phone)
	}
}

func TestMaskRedactNonStrings(t *testing.T) {
	t.Parallel()
	type addr struct {
		Street string
		Postal string `iam:"crm.citizen.postal.view" mask:"postal"`
	}
	type rec struct {
		Ward    int               `iam:"crm.citizen.ward.view"`
		Flags   []bool            `iam:"crm.citizen.flags.view" mask:"redact"`
		Address addr              `iam:"crm.citizen.address.view" mask:"redact"`
		Home    *addr             `iam:"crm.citizen.address.view"`
		Meta    map[string]any    `iam:"crm.citizen.meta.view"`
		PSIN    *masking.SIN      `iam:"crm.citizen.sin.view" mask:"sin"`
		SINs    []masking.SIN     `iam:"crm.citizen.sin.view" mask:"redact"`
		ByKind  map[string]string `iam:"crm.citizen.notes.view"`
		Untyped any               `mask:"redact"`
	}
	sin := mustSIN(t, "046454286")
	fresh := func() rec {
		return rec{
			Ward: 7, Flags: []bool{true}, Address: addr{"1 Main", "K1A0B1"}, Home: &addr{"2 Main", "K2P 1A1"},
			Meta: map[string]any{"a": 1}, PSIN: &sin, SINs: []masking.SIN{sin}, ByKind: map[string]string{"x": "y"}, Untyped: 3,
		}
	}
	var eng masking.Engine
	r := fresh()
	if err := eng.Mask(&r, nil, nil); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	want := rec{PSIN: &masking.SIN{}, SINs: []masking.SIN{{}}, ByKind: map[string]string{"x": masking.RedactedMask}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("nothing held:\n got %+v\nwant %+v", r, want)
	}
	if sin.Plain() != "046454286" {
		t.Errorf("masking *SIN wrote through the pointer")
	}

	// Holding the address permission shows the struct, but its own postal
	// rule still applies.
	r = fresh()
	if err := eng.Mask(&r, holding("crm.citizen.address.view"), nil); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	if r.Address != (addr{"1 Main", "K1A ***"}) || *r.Home != (addr{"2 Main", "K2P ***"}) {
		t.Errorf("address held: Address %+v, Home %+v", r.Address, *r.Home)
	}
}

func TestInvalidTags(t *testing.T) {
	t.Parallel()
	type inner struct {
		Email string `mask:"email"`
	}
	type hidden struct {
		Email string `mask:"email"`
	}
	tests := []struct {
		name  string
		v     any
		field string
	}{
		{"two segments", &struct {
			A string `iam:"crm.view" mask:"sin"`
		}{}, "A"},
		{"five segments", &struct {
			A string `iam:"a.b.c.d.e"`
		}{}, "A"},
		{"upper case", &struct {
			A string `iam:"CRM.citizen.view"`
		}{}, "A"},
		{"empty segment", &struct {
			A string `iam:"crm..view"`
		}{}, "A"},
		{"trailing dot", &struct {
			A string `iam:"crm.citizen.view."`
		}{}, "A"},
		{"empty iam", &struct {
			A string `iam:""`
		}{}, "A"},
		{"unknown mask", &struct {
			A string `iam:"crm.citizen.a.view" mask:"ssn"`
		}{}, "A"},
		{"empty mask", &struct {
			A string `mask:""`
		}{}, "A"},
		{"email on int", &struct {
			A int `iam:"crm.citizen.view" mask:"email"`
		}{}, "A"},
		{"email on SIN", &struct {
			A masking.SIN `iam:"crm.citizen.view" mask:"email"`
		}{}, "A"},
		{"bad pii", &struct {
			A string `mask:"sin" pii:"no"`
		}{}, "A"},
		{"pii alone", &struct {
			A string `pii:"false"`
		}{}, "A"},
		{"key with mask", &struct {
			A string `iam:"key" mask:"redact"`
		}{}, "A"},
		{"two keys", &struct {
			A string `iam:"key"`
			B string `iam:"key"`
		}{}, "B"},
		{"key of bad type", &struct {
			A []string `iam:"key"`
		}{}, "A"},
		{"tag on unexported", &struct {
			a string `mask:"sin"`
		}{}, "a"},
		{"nested", &struct {
			Items []struct {
				A string `iam:"nope"`
			}
		}{}, "A"},
		{"embedded pointer to unexported type", &struct{ *hidden }{}, "hidden"},
		{"in interface", &struct{ X any }{X: struct {
			A string `mask:"nope!"`
		}{}}, "A"},
	}
	_ = inner{}
	var eng masking.Engine
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i := range 2 { // the error is cached, not lost
				err := eng.Mask(tt.v, nil, nil)
				var te *masking.TagError
				if !errors.Is(err, masking.ErrInvalidTag) || !errors.As(err, &te) {
					t.Fatalf("call %d: Mask = %v, want a *TagError", i, err)
				}
				if te.Field != tt.field {
					t.Errorf("TagError.Field = %q, want %q (%v)", te.Field, tt.field, err)
				}
			}
			if _, err := eng.Marshal(tt.v, nil, nil); !errors.Is(err, masking.ErrInvalidTag) {
				t.Errorf("Marshal = %v, want ErrInvalidTag", err)
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	t.Parallel()
	var eng masking.Engine
	if err := eng.Prepare(Citizen{}); err != nil {
		t.Errorf("Prepare(Citizen) = %v", err)
	}
	bad := struct {
		A string `iam:"x"`
	}{}
	if err := eng.Prepare(bad); !errors.Is(err, masking.ErrInvalidTag) {
		t.Errorf("Prepare(bad) = %v, want ErrInvalidTag", err)
	}
	if err := eng.Prepare(nil); !errors.Is(err, masking.ErrInvalidValue) {
		t.Errorf("Prepare(nil) = %v, want ErrInvalidValue", err)
	}
}

func TestViewed(t *testing.T) {
	t.Parallel()
	type Household struct {
		Number  int `iam:"key"`
		Members []Citizen
		Head    *Contact
	}
	h := &Household{
		Number:  42,
		Members: []Citizen{*newCitizen(t), *newCitizen(t)},
		Head:    &Contact{Email: "h@x.ca"},
	}
	h.Members[1].ID = "C-2"
	h.Members[1].Contacts = h.Members[1].Contacts[:1]
	tests := []struct {
		name string
		may  func(string) bool
		want []masking.View
	}{
		{name: "nil may", may: nil, want: nil},
		{name: "ward is not pii", may: holding("crm.citizen.ward.view"), want: nil},
		{name: "sin", may: holding("crm.citizen.sin.view"), want: []masking.View{
			{Permission: "crm.citizen.sin.view", Field: "Members[0].SIN", Key: "C-1"},
			{Permission: "crm.citizen.sin.view", Field: "Members[0].SINText", Key: "C-1"},
			{Permission: "crm.citizen.sin.view", Field: "Members[1].SIN", Key: "C-2"},
			{Permission: "crm.citizen.sin.view", Field: "Members[1].SINText", Key: "C-2"},
		}},
		{name: "contact email", may: holding("crm.contact.email.view"), want: []masking.View{
			{Permission: "crm.contact.email.view", Field: "Members[0].Contacts[0].Email", Key: "C-1"},
			{Permission: "crm.contact.email.view", Field: "Members[0].Contacts[1].Email", Key: "C-1"},
			{Permission: "crm.contact.email.view", Field: `Members[0].ByLabel["home"].Email`, Key: "C-1"},
			{Permission: "crm.contact.email.view", Field: "Members[1].Contacts[0].Email", Key: "C-2"},
			{Permission: "crm.contact.email.view", Field: `Members[1].ByLabel["home"].Email`, Key: "C-2"},
			{Permission: "crm.contact.email.view", Field: "Head.Email", Key: "42"},
		}},
	}
	var eng masking.Engine
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec recorder
			if _, err := eng.MaskCopy(h, tt.may, rec.viewed); err != nil {
				t.Fatalf("MaskCopy: %v", err)
			}
			if !slices.Equal(rec.views, tt.want) {
				t.Errorf("views:\n got %+v\nwant %+v", rec.views, tt.want)
			}
		})
	}
}

func TestMayCalledOncePerPermission(t *testing.T) {
	t.Parallel()
	var eng masking.Engine
	cs := make([]Contact, 100)
	calls := map[string]int{}
	may := func(p string) bool { calls[p]++; return false }
	if err := eng.Mask(&cs, may, nil); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	want := map[string]int{"crm.contact.email.view": 1, "crm.contact.phone.view": 1}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("may calls = %v, want %v", calls, want)
	}
}

func TestMaskCopyLeavesOriginal(t *testing.T) {
	t.Parallel()
	var eng masking.Engine
	orig := newCitizen(t)
	orig.Spouse = newCitizen(t)
	orig.Extra = &Contact{Email: "x@y.ca", Phone: ptr("613-555-9999")}
	snapshot := newCitizen(t)
	snapshot.Spouse = newCitizen(t)
	snapshot.Extra = &Contact{Email: "x@y.ca", Phone: ptr("613-555-9999")}

	got, err := eng.MaskCopy(orig, nil, nil)
	if err != nil {
		t.Fatalf("MaskCopy: %v", err)
	}
	cp := got.(*Citizen)
	if cp == orig || cp.Spouse == orig.Spouse || &cp.Contacts[0] == &orig.Contacts[0] {
		t.Fatal("MaskCopy shares memory with the original")
	}
	if cp.SINText != masking.SINMask || cp.Spouse.Contacts[0].Email != "j***@example.ca" || cp.Extra.(*Contact).Email != "x***@y.ca" {
		t.Errorf("copy not masked: %+v", cp)
	}
	if !reflect.DeepEqual(orig, snapshot) {
		t.Errorf("original changed:\n got %#v\nwant %#v", orig, snapshot)
	}

	// A struct value, typed.
	val, err := masking.Copy(&eng, *orig, nil, nil)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if val.SINText != masking.SINMask || !reflect.DeepEqual(orig, snapshot) {
		t.Errorf("Copy: masked %q, original changed %v", val.SINText, !reflect.DeepEqual(orig, snapshot))
	}
	// Changing the copy does not change the original.
	val.Contacts[1].Kind = "changed"
	val.ByLabel["new"] = Contact{}
	if orig.Contacts[1].Kind != "work" || len(orig.ByLabel) != 1 {
		t.Error("changing the copy changed the original")
	}
}

func TestMarshal(t *testing.T) {
	t.Parallel()
	var eng masking.Engine
	c := newCitizen(t)
	b, err := eng.Marshal(c, holding("crm.citizen.address.view"), nil)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	out := string(b)
	for _, leak := range []string{"046454286", "046-454-286", "1980", "jane@", "snow"} {
		if strings.Contains(out, leak) {
			t.Errorf("Marshal leaked %q: %s", leak, out)
		}
	}
	for _, want := range []string{`"SIN":"***-***-***"`, `"Postal":"k1a 0b1"`, `"Email":"j***@example.ca"`} {
		if !strings.Contains(out, want) {
			t.Errorf("Marshal output lacks %s: %s", want, out)
		}
	}
	if c.SINText != "046-454-286" {
		t.Error("Marshal changed its argument")
	}

	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := eng.Encode(enc, []Contact{{Email: "a@b.ca"}}, nil, nil); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if !strings.Contains(buf.String(), `"Email": "a***@b.ca"`) {
		t.Errorf("Encode = %s", buf.String())
	}
	// Types with nothing to mask are encoded as they are.
	if b, err := eng.Marshal(map[string]int{"a": 1}, nil, nil); err != nil || string(b) != `{"a":1}` {
		t.Errorf("Marshal(plain) = %s, %v", b, err)
	}
}

func TestCustomMaskers(t *testing.T) {
	t.Parallel()
	eng, err := masking.New(masking.Options{Maskers: map[string]masking.Masker{
		"initial": func(s string) string {
			if s == "" {
				return ""
			}
			return s[:1] + "."
		},
	}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	type rec struct {
		Name  string   `iam:"crm.citizen.name.view" mask:"initial"`
		Names []string `mask:"initial"`
	}
	r := rec{Name: "Jane", Names: []string{"Doe", ""}}
	if err := eng.Mask(&r, nil, nil); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	if r.Name != "J." || !slices.Equal(r.Names, []string{"D.", ""}) {
		t.Errorf("custom mask = %+v", r)
	}
	// Another engine does not know the mask.
	var other masking.Engine
	if err := other.Mask(&rec{}, nil, nil); !errors.Is(err, masking.ErrInvalidTag) {
		t.Errorf("zero Engine with custom mask tag = %v, want ErrInvalidTag", err)
	}

	for name, m := range map[string]masking.Masker{"sin": strings.ToUpper, "Bad-Name": strings.ToUpper, "": strings.ToUpper, "nilmask": nil} {
		if _, err := masking.New(masking.Options{Maskers: map[string]masking.Masker{name: m}}); !errors.Is(err, masking.ErrInvalidOptions) {
			t.Errorf("New with masker %q = %v, want ErrInvalidOptions", name, err)
		}
	}
}

func TestBuiltinMasks(t *testing.T) {
	t.Parallel()
	type rec struct {
		Email  string `mask:"email"`
		Phone  string `mask:"phone"`
		Postal string `mask:"postal"`
		DOB    string `mask:"dob"`
		Redact string `mask:"redact"`
	}
	tests := []struct{ in, want rec }{
		{rec{"jane.doe@example.ca", "(613) 555-1234", "K1A 0B1", "1980-04-01", "x"}, rec{"j***@example.ca", "***-***-1234", "K1A ***", "****-**-**", "[REDACTED]"}},
		{rec{"élise@exemple.ca", "+1 613 555 9876", "k1a0b1", "1 April 1980", ""}, rec{"é***@exemple.ca", "***-***-9876", "K1A ***", "****-**-**", "[REDACTED]"}},
		{rec{"", "", "", "", ""}, rec{"", "", "", "****-**-**", "[REDACTED]"}},
		{rec{"no-at-sign", "123", "90210", "", "y"}, rec{"***", "***-***-****", "*** ***", "****-**-**", "[REDACTED]"}},
		{rec{"@example.ca", "phone: none", "K1A 0B1 X", "-", "z"}, rec{"***", "***-***-****", "*** ***", "****-**-**", "[REDACTED]"}},
		{rec{"a@b@c.ca", "1-2-3-4", "1A1 A1A", "x", "z"}, rec{"a***@c.ca", "***-***-1234", "*** ***", "****-**-**", "[REDACTED]"}},
		{rec{"jane@", "5551234ext", "K1A-0B1", "x", "z"}, rec{"***", "***-***-1234", "K1A ***", "****-**-**", "[REDACTED]"}},
		{rec{"\xffx@y.ca", "", "", "", ""}, rec{"****@y.ca", "", "", "****-**-**", "[REDACTED]"}},
	}
	var eng masking.Engine
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in.Email+"|"+tt.in.Phone+"|"+tt.in.Postal), func(t *testing.T) {
			t.Parallel()
			got := tt.in
			if err := eng.Mask(&got, nil, nil); err != nil {
				t.Fatalf("Mask: %v", err)
			}
			if got != tt.want {
				t.Errorf("Mask(%+v)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	eng, err := masking.New(masking.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				c := newCitizen(t)
				c.Extra = struct {
					N     int
					Email string `mask:"email"`
				}{i, "a@b.ca"}
				if err := eng.Mask(c, holding("crm.citizen.sin.view"), func(masking.View) {}); err != nil {
					t.Errorf("Mask: %v", err)
					return
				}
				if _, err := eng.Marshal(c, nil, nil); err != nil {
					t.Errorf("Marshal: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestInvalidTagCachedThenNested(t *testing.T) {
	t.Parallel()
	type bad struct {
		A string `iam:"nope"`
	}
	type holder struct{ Items []bad }
	var eng masking.Engine
	if err := eng.Prepare(bad{}); !errors.Is(err, masking.ErrInvalidTag) {
		t.Fatalf("Prepare(bad) = %v", err)
	}
	for range 2 {
		if err := eng.Mask(&holder{}, nil, nil); !errors.Is(err, masking.ErrInvalidTag) {
			t.Fatalf("Mask(holder of bad) = %v, want ErrInvalidTag", err)
		}
	}
}

type recordID [2]byte

func (id recordID) String() string { return fmt.Sprintf("R%d-%d", id[0], id[1]) }

func TestViewedKeysAndPaths(t *testing.T) {
	t.Parallel()
	type point struct{ X, Y int }
	type item struct {
		ID    recordID `iam:"key"`
		Email string   `iam:"crm.contact.email.view" mask:"email"`
	}
	type rec struct {
		ByPoint map[point]item
		ByID    map[uint8]*item
		Grid    [1][2]item
	}
	r := rec{
		ByPoint: map[point]item{{1, 2}: {ID: recordID{1, 2}, Email: "a@b.ca"}},
		ByID:    map[uint8]*item{9: {ID: recordID{9, 9}, Email: "c@d.ca"}},
		Grid:    [1][2]item{{{ID: recordID{0, 0}}, {ID: recordID{0, 1}}}},
	}
	var rec2 recorder
	var eng masking.Engine
	if err := eng.Mask(&r, holding("crm.contact.email.view"), rec2.viewed); err != nil {
		t.Fatalf("Mask: %v", err)
	}
	want := []masking.View{
		{Permission: "crm.contact.email.view", Field: "ByPoint[{1 2}].Email", Key: "R1-2"},
		{Permission: "crm.contact.email.view", Field: "ByID[9].Email", Key: "R9-9"},
		{Permission: "crm.contact.email.view", Field: "Grid[0][0].Email", Key: "R0-0"},
		{Permission: "crm.contact.email.view", Field: "Grid[0][1].Email", Key: "R0-1"},
	}
	if !slices.Equal(rec2.views, want) {
		t.Errorf("views:\n got %+v\nwant %+v", rec2.views, want)
	}
}
