package casbinx_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/rbac"
)

var noon = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

func model() rbac.Model {
	return rbac.Model{
		Permissions: []rbac.Permission{"crm.citizen.email.view"},
		Scopes:      []rbac.ScopeNode{{Scope: "dept:building"}, {Scope: "facility:hall", Parent: "dept:building"}, {Scope: "ward:7"}},
		Roles: []rbac.Role{
			{ID: "base", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "clerk", Inherits: []rbac.RoleID{"base"}, Permissions: []rbac.Permission{"permits.*"}, Deny: []rbac.Permission{"permits.application.approve"}},
			{ID: "cbo", Permissions: []rbac.Permission{"permits.application.approve", "crm.citizen.sin.view"}},
			{ID: "privacy", Composite: true, Inherits: []rbac.RoleID{"cbo"}, Permissions: []rbac.Permission{"crm.citizen.*"}, Deny: []rbac.Permission{"crm.citizen.sin.*"}},
		},
		Members: []rbac.Membership{{Member: "user:bob", Group: "group:clerks"}, {Member: "svc:api", Group: "unit:it"}},
		Grants: []rbac.Grant{
			{Subject: "user:alice", Role: "cbo", Scope: "dept:building"},
			{Subject: "group:clerks", Role: "clerk", Scope: "ward:7", NotAfter: noon.Add(time.Hour)},
			{Subject: "user:carol", Role: "cbo", Scope: "org", NotBefore: noon.Add(time.Hour)},
			{Subject: "unit:it", Role: "privacy", Scope: "facility:hall"},
			{Subject: "user:bob", Role: "cbo", Scope: "ward:7"},
		},
	}
}

func TestAgreesWithCompiledPolicy(t *testing.T) {
	t.Parallel()
	m := model()
	p, err := rbac.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	e, err := casbinx.NewEnforcer(m)
	if err != nil {
		t.Fatal(err)
	}
	subjects := []rbac.Subject{"user:alice", "user:bob", "user:carol", "group:clerks", "svc:api", "unit:it", "user:none"}
	perms := []rbac.Permission{"permits.application.read", "permits.application.approve", "permits.fee.waive",
		"crm.citizen.sin.view", "crm.citizen.email.view", "crm.citizen.phone.view", "parks.bench.paint"}
	scopes := []rbac.Scope{"org", "dept:building", "facility:hall", "ward:7", "ward:8"}
	allowed := 0
	for _, sub := range subjects {
		for _, x := range perms {
			for _, s := range scopes {
				for _, at := range []time.Time{noon, noon.Add(2 * time.Hour)} {
					want, err := casbinx.Enforce(e, sub, x, s, at)
					if err != nil {
						t.Fatal(err)
					}
					got := p.Allows(sub, x, s, at)
					if got != want {
						t.Errorf("%s %s %s %v: rbac %v, casbin %v", sub, x, s, at, got, want)
					}
					if got {
						allowed++
					}
				}
			}
		}
	}
	if allowed < 20 {
		t.Errorf("only %d allowed requests: the case mix is too thin to compare", allowed)
	}
}

func TestLinesRoundTrip(t *testing.T) {
	t.Parallel()
	m := model()
	lines, err := casbinx.Lines(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := casbinx.FromLines(lines)
	if err != nil {
		t.Fatal(err)
	}
	again, err := casbinx.Lines(back)
	if err != nil {
		t.Fatal(err)
	}
	key := func(ls []casbinx.Line) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.PType+","+strings.Join(l.Values, ","))
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(key(lines), key(again)) {
		t.Errorf("round trip changed the lines:\n%v\n%v", key(lines), key(again))
	}
	if len(back.Grants) != len(m.Grants) || !back.Grants[1].NotAfter.Equal(m.Grants[1].NotAfter) {
		t.Errorf("grants changed: %+v", back.Grants)
	}
}

func TestLinesRefusesInvalidModel(t *testing.T) {
	t.Parallel()
	_, err := casbinx.Lines(rbac.Model{Roles: []rbac.Role{{ID: "a,b"}}})
	if !errors.Is(err, rbac.ErrInvalidInput) {
		t.Fatalf("err = %v", err)
	}
}

func TestFromLinesRejectsMalformed(t *testing.T) {
	t.Parallel()
	open, end := "00000000000000000000", "99999999999999999999"
	tests := []struct {
		name  string
		lines []casbinx.Line
	}{
		{"unknown ptype", []casbinx.Line{{PType: "p9", Values: []string{"a", "b"}}}},
		{"short p line", []casbinx.Line{{PType: "p", Values: []string{"user:a", "role:r"}}}},
		{"short g line", []casbinx.Line{{PType: "g", Values: []string{"user:a"}}}},
		{"bad instant", []casbinx.Line{{PType: "g2", Values: []string{"role:r", "meta:role"}}, {PType: "p", Values: []string{"user:a", "role:r", "org", "12x", end, "allow"}}}},
		{"negative instant", []casbinx.Line{{PType: "g2", Values: []string{"role:r", "meta:role"}}, {PType: "p", Values: []string{"user:a", "role:r", "org", "-0000000000000000001", end, "allow"}}}},
		{"grant to missing role", []casbinx.Line{{PType: "p", Values: []string{"user:a", "role:ghost", "org", open, end, "allow"}}}},
		{"p role without prefix", []casbinx.Line{{PType: "p", Values: []string{"user:a", "ghost", "org", open, end, "allow"}}}},
		{"hostile subject", []casbinx.Line{{PType: "g2", Values: []string{"role:r", "meta:role"}}, {PType: "p", Values: []string{"user:a\nb", "role:r", "org", open, end, "allow"}}}},
		{"until before from", []casbinx.Line{{PType: "g2", Values: []string{"role:r", "meta:role"}}, {PType: "p", Values: []string{"user:a", "role:r", "org", "00000000000000000010", "00000000000000000005", "allow"}}}},
		{"g2 odd target", []casbinx.Line{{PType: "g2", Values: []string{"role:r", "something"}}}},
		{"role cycle", []casbinx.Line{{PType: "g2", Values: []string{"role:a", "role:b"}}, {PType: "g2", Values: []string{"role:b", "role:a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if m, err := casbinx.FromLines(tt.lines); err == nil {
				t.Fatalf("accepted: %+v", m)
			}
		})
	}
}

func FuzzFromLines(f *testing.F) {
	f.Add("p", "user:a", "role:r", "org", "00000000000000000000", "99999999999999999999", "allow")
	f.Add("g", "user:a", "group:g", "", "", "", "")
	f.Add("g2", "role:r", "allow:permits.*", "", "", "", "")
	f.Add("g2", "allow:permits.a.b", "meta:permission", "", "", "", "")
	f.Add("g3", "facility:x", "dept:y", "", "", "", "")
	f.Fuzz(func(t *testing.T, pt, v0, v1, v2, v3, v4, v5 string) {
		lines := []casbinx.Line{
			{PType: "g2", Values: []string{"role:r", "meta:role"}},
			{PType: pt, Values: []string{v0, v1, v2, v3, v4, v5}},
		}
		m, err := casbinx.FromLines(lines)
		if err != nil {
			return
		}
		// Whatever FromLines accepts must compile and serialise again.
		if _, err := rbac.Compile(m); err != nil {
			t.Fatalf("accepted a model that does not compile: %v", err)
		}
		if _, err := casbinx.Lines(m); err != nil {
			t.Fatalf("accepted a model that cannot be written: %v", err)
		}
	})
}

func TestExtrasRoundTripLabelsAndReasons(t *testing.T) {
	t.Parallel()
	m := model()
	m.Roles[0].Labels = map[string]string{"en": "Base user", "fr": "Utilisateur de base"}
	m.Grants[0].Reason = "acting CBO, comma, \"quotes\" and\nnewline"
	if !casbinx.HasExtras(m) {
		t.Fatal("HasExtras = false with labels and a reason")
	}
	lines, err := casbinx.Lines(m)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := casbinx.Extras(m)
	if err != nil {
		t.Fatal(err)
	}
	base, err := casbinx.FromLines(lines)
	if err != nil {
		t.Fatal(err)
	}
	got, err := casbinx.WithExtras(base, doc)
	if err != nil {
		t.Fatal(err)
	}
	var labels map[string]string
	for _, r := range got.Roles {
		if r.ID == "base" {
			labels = r.Labels
		}
	}
	if labels["fr"] != "Utilisateur de base" {
		t.Errorf("labels = %v", labels)
	}
	for _, g := range got.Grants {
		if g.Key() == m.Grants[0].Key() && g.Reason != m.Grants[0].Reason {
			t.Errorf("reason = %q", g.Reason)
		}
	}
	if casbinx.HasExtras(model()) {
		t.Error("HasExtras = true for a model without labels, reasons or rules")
	}
}
