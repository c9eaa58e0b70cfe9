package masking

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestValidPermission(t *testing.T) {
	t.Parallel()
	tests := []struct {
		perm string
		want bool
	}{
		{"crm.citizen.view", true},
		{"crm.citizen.sin.view", true},
		{"permits_2.application.approve", true},
		{"crm.citizen", false},
		{"a.b.c.d.e", false},
		{"crm.Citizen.view", false},
		{"crm..view", false},
		{".crm.citizen.view", false},
		{"crm.citizen.view.", false},
		{"crm.citizen-x.view", false},
		{"crm.citizen.vieŵ", false},
		{"", false},
		{"key", false},
	}
	for _, tt := range tests {
		t.Run(tt.perm, func(t *testing.T) {
			t.Parallel()
			if got := validPermission(tt.perm); got != tt.want {
				t.Errorf("validPermission(%q) = %v, want %v", tt.perm, got, tt.want)
			}
		})
	}
}

func FuzzTag(f *testing.F) {
	f.Add(`iam:"crm.citizen.sin.view" mask:"sin"`)
	f.Add(`iam:"key"`)
	f.Add(`iam:"crm.citizen.view" pii:"false"`)
	f.Add(`mask:"redact" json:"x,omitempty"`)
	f.Add(`iam:"crm.citizen.view" mask:""`)
	f.Add(`iam:"a.b" mask:"x" pii:"maybe"`)
	f.Add(`iam:"\u00e9.b.c"`)
	f.Add(`iam:`)
	f.Add(`iam:"unterminated`)
	f.Fuzz(func(t *testing.T, tag string) {
		spec, reason := parseTag(reflect.StructTag(tag))
		if reason != "" {
			if spec != (tagSpec{}) {
				t.Fatalf("failed parse returned %+v", spec)
			}
			return
		}
		if spec.key && spec.rule {
			t.Fatalf("%q: both key and rule", tag)
		}
		if spec.rule && (spec.mask == "" || !validName(spec.mask)) {
			t.Fatalf("%q: rule with mask %q", tag, spec.mask)
		}
		if spec.perm != "" {
			if !validPermission(spec.perm) {
				t.Fatalf("%q: accepted permission %q", tag, spec.perm)
			}
			if n := strings.Count(spec.perm, ".") + 1; n != 3 && n != 4 {
				t.Fatalf("%q: %d segments", tag, n)
			}
		}
		// A rule that parses applies to a string field, unless it names a
		// mask this Engine does not know.
		if !spec.rule {
			return
		}
		b := builder{e: &Engine{}, plans: make(map[reflect.Type]*typePlan)}
		r, _, reason := b.rule(spec, reflect.TypeFor[string]())
		if _, known := builtin(spec.mask); known != (reason == "") {
			t.Fatalf("%q: rule for a string: %q", tag, reason)
		}
		if known := reason == ""; known && (r.target != tgtString || r.perm != spec.perm) {
			t.Fatalf("%q: rule %+v", tag, r)
		}
	})
}

func FuzzTagValues(f *testing.F) {
	f.Add("crm.citizen.sin.view", "sin", "true")
	f.Add("key", "", "")
	f.Add("crm.citizen.view", "email", "false")
	f.Fuzz(func(t *testing.T, iam, mask, pii string) {
		tag := reflect.StructTag("iam:" + strconv.Quote(iam) + " mask:" + strconv.Quote(mask) + " pii:" + strconv.Quote(pii))
		spec, reason := parseTag(tag)
		if reason == "" && spec.perm != iam {
			t.Fatalf("iam %q parsed as %q", iam, spec.perm)
		}
		if reason == "" && !validPermission(iam) {
			t.Fatalf("accepted invalid permission %q", iam)
		}
	})
}
