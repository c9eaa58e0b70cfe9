package templates_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
)

func defaultSet(t *testing.T) *templates.Set {
	t.Helper()
	set, err := templates.Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return set
}

func TestExtendAddsServicePermissions(t *testing.T) {
	t.Parallel()
	set := defaultSet(t)
	ext, rep, err := set.Extend(
		templates.Perm("permits.applicant.read"),
		templates.Perm("permits.applicant.sin.view"),
	)
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if want := []rbac.Permission{"permits.applicant.read", "permits.applicant.sin.view"}; !slices.Equal(rep.Added, want) {
		t.Errorf("Added = %v, want %v", rep.Added, want)
	}
	for _, x := range rep.Added {
		if !slices.Contains(ext.Permissions(), x) {
			t.Errorf("the extended catalog lacks %s", x)
		}
		if slices.Contains(set.Permissions(), x) {
			t.Errorf("Extend changed the original set: it lists %s", x)
		}
	}
	if !slices.IsSorted(ext.Permissions()) {
		t.Error("the extended catalog is not sorted")
	}

	// A role may now name the service's permission, and only in the
	// extended set.
	if _, err := set.Instantiate("clerk", "permits-clerk", templates.Add("permits.applicant.read")); err == nil {
		t.Error("the original set accepts a permission only the extension registered")
	}
	role, err := ext.Instantiate("clerk", "permits-clerk", templates.Add("permits.applicant.read"))
	if err != nil {
		t.Fatalf("Instantiate on the extended set: %v", err)
	}

	// The catalog makes the shipped wildcard cover the new permission in
	// a compiled policy: the reason to put it in the model.
	cbo, err := ext.Instantiate("cbo", "cbo")
	if err != nil {
		t.Fatalf("Instantiate cbo: %v", err)
	}
	p, err := rbac.Compile(rbac.Model{
		Permissions: ext.Permissions(),
		Roles:       []rbac.Role{role, cbo},
		Grants: []rbac.Grant{
			{Subject: "user:clara", Role: "permits-clerk", Scope: "org"},
			{Subject: "user:omar", Role: "cbo", Scope: "org"},
		},
	})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	for _, c := range []struct {
		sub  rbac.Subject
		x    rbac.Permission
		want bool
	}{
		{"user:clara", "permits.applicant.read", true},
		{"user:clara", "permits.applicant.sin.view", false},
		{"user:omar", "permits.applicant.sin.view", true}, // permits.* — hence the report below
	} {
		if got := p.Allows(c.sub, c.x, "org", noonish); got != c.want {
			t.Errorf("%s %s = %v, want %v", c.sub, c.x, got, c.want)
		}
	}
}

func TestExtendReportsPIIExposures(t *testing.T) {
	t.Parallel()
	set := defaultSet(t)
	tests := []struct {
		name string
		regs []templates.Registration
		want []string // Exposure.String()
	}{
		{name: "field-level is PII by default",
			regs: []templates.Registration{templates.Perm("permits.applicant.sin.view")},
			want: []string{"template cbo grants PII permission permits.applicant.sin.view through permits.*"}},
		{name: "three segments, not flagged",
			regs: []templates.Registration{templates.Perm("permits.applicant.export")}},
		{name: "three segments, flagged PII",
			regs: []templates.Registration{templates.PII("permits.applicant.export")},
			want: []string{"template cbo grants PII permission permits.applicant.export through permits.*"}},
		{name: "no template covers it",
			regs: []templates.Registration{templates.PII("licensing.dog.owner.view")}},
		{name: "narrow wildcard",
			regs: []templates.Registration{templates.Perm("finance.gl.vendor_bank.view")},
			want: []string{"template treasurer grants PII permission finance.gl.vendor_bank.view through finance.gl.*"}},
		{name: "several, sorted by permission",
			regs: []templates.Registration{templates.Perm("it.user.sin.view"), templates.PII("fire.incident.victim_name")},
			want: []string{
				"template emergency-operations grants PII permission fire.incident.victim_name through fire.incident.*",
				"template fire-chief grants PII permission fire.incident.victim_name through fire.*",
				"template it-admin grants PII permission it.user.sin.view through it.*",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, rep, err := set.Extend(tt.regs...)
			if err != nil {
				t.Fatalf("Extend: %v", err)
			}
			var got []string
			for _, e := range rep.Exposures {
				got = append(got, e.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Exposures:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestExtendDenyIsNotExposure: a template whose deny rule covers the new
// permission does not grant it and is not reported; rbac decides.
func TestExtendDenyIsNotExposure(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"catalog.json": {Data: []byte(`{"permissions": ["permits.application.read", "permits.applicant.read"]}`)},
		"roles/clerk.json": {Data: []byte(`{"id":"clerk","labels":{"en":"Clerk","fr":"Greffier"},` +
			`"permissions":["permits.*"],"deny":["permits.applicant.*"]}`)},
		"roles/cbo.json": {Data: []byte(`{"id":"cbo","labels":{"en":"CBO","fr":"CBO"},"permissions":["permits.*","permits.applicant.*"]}`)},
	}
	set, err := templates.Load(fsys)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	_, rep, err := set.Extend(templates.Perm("permits.applicant.sin.view"))
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if len(rep.Exposures) != 1 || rep.Exposures[0].Template != "cbo" {
		t.Fatalf("Exposures = %+v, want only cbo", rep.Exposures)
	}
	if got, want := rep.Exposures[0].Rules, []rbac.Permission{"permits.*", "permits.applicant.*"}; !slices.Equal(got, want) {
		t.Errorf("Rules = %v, want both covering wildcards %v", got, want)
	}
}

func TestExtendRefusesBadRegistrations(t *testing.T) {
	t.Parallel()
	set := defaultSet(t)
	before := set.Permissions()
	tests := []struct {
		name string
		regs []templates.Registration
	}{
		{"empty", []templates.Registration{templates.Perm("")}},
		{"upper case", []templates.Registration{templates.Perm("Permits.applicant.read")}},
		{"Cyrillic look-alike", []templates.Registration{templates.Perm("permits.appl\u0456cant.read")}},
		{"fullwidth dot", []templates.Registration{templates.Perm("permits\uff0eapplicant.read")}},
		{"zero-width space", []templates.Registration{templates.Perm("permits.applicant\u200b.read")}},
		{"wildcard", []templates.Registration{templates.PII("permits.applicant.*")}},
		{"two segments", []templates.Registration{templates.Perm("permits.applicant")}},
		{"five segments", []templates.Registration{templates.Perm("permits.applicant.sin.last4.view")}},
		{"SQL metacharacters", []templates.Registration{templates.Perm("permits.applicant.read'; drop table casbin_rule; --")}},
		{"separator", []templates.Registration{templates.Perm("permits.applicant.read,org")}},
		{"NUL", []templates.Registration{templates.Perm("permits.applicant.read\x00")}},
		{"oversized", []templates.Registration{templates.Perm(rbac.Permission(strings.Repeat("a", 40) + "." + strings.Repeat("b", 40) + "." + strings.Repeat("c", 300)))}},
		{"twice in one call", []templates.Registration{templates.Perm("permits.applicant.read"), templates.PII("permits.applicant.read")}},
		{"already shipped", []templates.Registration{templates.Perm("crm.citizen.sin.view")}},
		{"good then bad", []templates.Registration{templates.Perm("permits.applicant.read"), templates.Perm("permits.Applicant.read")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ext, rep, err := set.Extend(tt.regs...)
			if !errors.Is(err, rbac.ErrInvalidInput) || errors.Is(err, rbac.ErrNotFound) {
				t.Fatalf("Extend: %v, want only ErrInvalidInput", err)
			}
			if ext != nil || rep.Added != nil || rep.Exposures != nil {
				t.Errorf("a refused Extend returned %v, %+v", ext, rep)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error message is %d bytes: hostile input should be quoted and cut", len(err.Error()))
			}
		})
	}
	if !slices.Equal(set.Permissions(), before) {
		t.Error("refused Extends changed the set")
	}
	// Extending twice with the same permission is a duplicate too.
	ext, _, err := set.Extend(templates.Perm("permits.applicant.read"))
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if _, _, err := ext.Extend(templates.Perm("permits.applicant.read")); !errors.Is(err, rbac.ErrInvalidInput) {
		t.Errorf("second Extend with the same permission: %v, want ErrInvalidInput", err)
	}
}

func TestSetPII(t *testing.T) {
	t.Parallel()
	ext, _, err := defaultSet(t).Extend(templates.PII("permits.applicant.export"), templates.Perm("permits.applicant.read"))
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	for x, want := range map[rbac.Permission]bool{
		"crm.citizen.sin.view":     true, // shipped, field-level
		"permits.application.read": false,
		"permits.applicant.export": true, // registered PII
		"permits.applicant.read":   false,
		"permits.applicant.x.view": false, // not in the catalog
	} {
		if got := ext.PII(x); got != want {
			t.Errorf("PII(%s) = %v, want %v", x, got, want)
		}
	}
}

func TestExtendReportJSON(t *testing.T) {
	t.Parallel()
	_, rep, err := defaultSet(t).Extend(templates.Perm("permits.applicant.sin.view"))
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"added":["permits.applicant.sin.view"],"exposures":[{"permission":"permits.applicant.sin.view","template":"cbo","rules":["permits.*"]}]}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
}

// FuzzExtend holds Extend to the grammar: whatever the input, it is
// either refused with ErrInvalidInput and nothing is returned, or it is a
// valid concrete permission that the new catalog lists.
func FuzzExtend(f *testing.F) {
	set, err := templates.Default()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"permits.applicant.sin.view", "permits.*", "Permits.a.b", "permits.appl\u0456cant.read", "a.b.c.d.e", "", "crm.citizen.sin.view"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, pii bool) {
		x := rbac.Permission(s)
		ext, rep, err := set.Extend(templates.Registration{Permission: x, PII: pii})
		if err != nil {
			if !errors.Is(err, rbac.ErrInvalidInput) || ext != nil {
				t.Fatalf("Extend(%q) = %v, %v", s, ext, err)
			}
			return
		}
		if x.Validate() != nil || !slices.Contains(ext.Permissions(), x) || !slices.Equal(rep.Added, []rbac.Permission{x}) {
			t.Fatalf("Extend accepted %q: valid %v, listed %v", s, x.Validate(), rep.Added)
		}
		if ext.PII(x) != templates.IsPII(x, pii) {
			t.Fatalf("PII(%q) = %v", s, ext.PII(x))
		}
		for _, e := range rep.Exposures {
			if e.Permission != x || len(e.Rules) == 0 || !ext.PII(x) {
				t.Fatalf("exposure %+v for %q", e, s)
			}
		}
	})
}
