package rowgen

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/rbac"
)

// Noon anchors the instants of generated windows and requests.
var Noon = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// Base is the well-formed model the generated rows start from: roles with
// allow and deny rules and wildcards, inheritance, a scope tree, a group
// and a unit with members, and grants with open and closed windows.
func Base() rbac.Model {
	return rbac.Model{
		Permissions: []rbac.Permission{"permits.inspection.close"},
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:a"}, {Scope: "dept:b"},
			{Scope: "facility:x", Parent: "dept:a"}, {Scope: "ward:1"},
		},
		Roles: []rbac.Role{
			{ID: "r0", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "r1", Inherits: []rbac.RoleID{"r0"}, Permissions: []rbac.Permission{"permits.*"},
				Deny: []rbac.Permission{"permits.application.approve"}},
			{ID: "r2", Permissions: []rbac.Permission{"crm.citizen.*", "permits.application.approve"},
				Deny: []rbac.Permission{"crm.citizen.sin.*"}},
			{ID: "r3", Composite: true, Inherits: []rbac.RoleID{"r1", "r2"}},
		},
		Members: []rbac.Membership{{Member: "user:a", Group: "group:g"}, {Member: "svc:c", Group: "unit:u"}},
		Grants: []rbac.Grant{
			{Subject: "user:a", Role: "r2", Scope: "dept:a"},
			{Subject: "group:g", Role: "r1", Scope: "org", NotAfter: Noon.Add(time.Hour)},
			{Subject: "user:b", Role: "r3", Scope: "facility:x", NotBefore: Noon.Add(-time.Hour)},
			{Subject: "unit:u", Role: "r0", Scope: "ward:1"},
			{Subject: "user:b", Role: "r2", Scope: "dept:b", NotBefore: Noon.Add(-2 * time.Hour), NotAfter: Noon.Add(2 * time.Hour)},
		},
	}
}

// Value pools: well-formed values first, then ones this module refuses.
var (
	Subjects = []string{"user:a", "user:b", "svc:c", "group:g", "unit:u", "user:z", "group:h",
		"User:A", "user:a ", "user:a,b", "", "role:r1", "user:", "group:G"}
	Roles = []string{"role:r0", "role:r1", "role:r2", "role:r3", "role:ghost",
		"role:R1", "role:", "role:r 1", "deny:permits.application.read", "allow:permits.application.approve",
		"deny:crm.*", "allow:crm.*", "r1", "meta:role"}
	Scopes = []string{"org", "dept:a", "dept:b", "facility:x", "ward:1", "ward:2",
		"Dept:a", "dept:", "city:x", "", "org "}
	instants = []string{"00000000000000000000", "99999999999999999999",
		casbinx.Instant(Noon.Add(-time.Hour)), casbinx.Instant(Noon), casbinx.Instant(Noon.Add(time.Nanosecond)), casbinx.Instant(Noon.Add(time.Hour)),
		"0", "1", "-0000000000000000001", "+0000000000000000001", "09223372036854775807", "09223372036854775806",
		casbinx.Instant(Noon)[1:], " " + casbinx.Instant(Noon)[1:], ""}
	effects  = []string{"allow", "deny", "Allow", "", "deny "}
	ruleTail = []string{"permits.application.read", "permits.application.approve", "permits.*", "crm.citizen.*",
		"crm.citizen.sin.view", "crm.*", "", "Permits.x", "*", "permits..read", "crm.citizen.sin.*"}
	g2Targets = func() []string {
		out := []string{"role:r0", "role:r1", "role:r2", "role:r3", "role:ghost", "role:R0",
			"meta:role", "meta:composite", "meta:emergency", "meta:permission", "meta:other"}
		for _, t := range ruleTail {
			out = append(out, "allow:"+t, "deny:"+t)
		}
		return out
	}()
	g2Sources = []string{"role:r0", "role:r1", "role:r2", "role:r3", "role:r4", "role:R1", "role:",
		"allow:permits.application.read", "allow:crm.citizen.sin.view", "meta:role", "meta:permission", "deny:crm.*"}
)

type bytes struct {
	data []byte
	i    int
}

func (b *bytes) next() int {
	if b.i >= len(b.data) {
		return 0
	}
	b.i++
	return int(b.data[b.i-1])
}

func (b *bytes) pick(list []string) string { return list[b.next()%len(list)] }

// Lines returns Base's lines with changes drawn from data: assignments
// with arbitrary values, lone allow and deny lines, a twin removed, a value
// of an existing line replaced, memberships, role and scope edges. Lines
// are as gorm-adapter reads them back: trailing empty values dropped, no
// line twice.
func Lines(data []byte) []casbinx.Line {
	b := &bytes{data: data}
	lines := casbinx.Encode(Base())
	p := func(eft string) casbinx.Line {
		return casbinx.Line{PType: "p", Values: []string{b.pick(Subjects), b.pick(Roles), b.pick(Scopes), b.pick(instants), b.pick(instants), eft}}
	}
	for n := b.next() % 12; n > 0 && b.i < len(b.data); n-- {
		switch op := b.next() % 9; op {
		case 0: // an assignment stored the way casbinx stores one
			l := p("allow")
			d := casbinx.Line{PType: "p", Values: slices.Clone(l.Values)}
			d.Values[5] = "deny"
			lines = append(lines, l, d)
		case 1: // a lone allow or deny line, or one with another effect
			lines = append(lines, p(b.pick(effects)))
		case 2: // drop a line (often one twin of an assignment)
			if len(lines) > 0 {
				i := b.next() % len(lines)
				lines = slices.Delete(lines, i, i+1)
			}
		case 3: // replace one value of an existing line
			if len(lines) > 0 {
				l := &lines[b.next()%len(lines)]
				l.Values = slices.Clone(l.Values)
				if len(l.Values) > 0 {
					i := b.next() % len(l.Values)
					pools := [][]string{Subjects, Roles, Scopes, instants, instants, effects}
					if l.PType != "p" {
						pools = [][]string{Subjects, g2Targets, Scopes}
					}
					l.Values[i] = b.pick(pools[(i+b.next())%len(pools)])
				}
			}
		case 4: // a membership
			lines = append(lines, casbinx.Line{PType: "g", Values: []string{b.pick(Subjects), b.pick(Subjects)}})
		case 5, 6: // a role edge
			lines = append(lines, casbinx.Line{PType: "g2", Values: []string{b.pick(g2Sources), b.pick(g2Targets)}})
		case 7: // a scope edge
			lines = append(lines, casbinx.Line{PType: "g3", Values: []string{b.pick(Scopes), b.pick(Scopes)}})
		case 8: // an emergency flag on a role already granted
			lines = append(lines, casbinx.Line{PType: "g2", Values: []string{b.pick(g2Sources[:4]), "meta:emergency"}})
		}
	}
	return normalize(lines)
}

// normalize drops trailing empty values and repeated lines, as a round
// trip through gorm-adapter's table does.
func normalize(lines []casbinx.Line) []casbinx.Line {
	seen := map[string]bool{}
	out := lines[:0:0]
	for _, l := range lines {
		v := slices.Clone(l.Values)
		for len(v) > 0 && v[len(v)-1] == "" {
			v = v[:len(v)-1]
		}
		if len(v) == 0 {
			continue
		}
		k := l.PType + "\x00" + strings.Join(v, "\x00")
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, casbinx.Line{PType: l.PType, Values: v})
	}
	return out
}

// Seeds are inputs for [Lines] that cover the cases: a lone deny line, one
// twin dropped, assignments with odd values, role and scope edges,
// memberships, and many changes at once.
func Seeds() [][]byte {
	return [][]byte{
		{},
		{3, 1, 1, 0, 0, 0, 0, 0, 1, 1},
		{2, 2, 3},
		{4, 0, 1, 8, 0, 0, 2, 3, 1, 5, 13, 5, 1, 3, 7, 6},
		{5, 7, 1, 5, 7, 0, 3, 4, 0, 4, 6, 1, 5, 5, 5},
		{6, 3, 20, 1, 3, 3, 30, 2, 3, 9, 1, 8, 2, 5, 0, 19},
		[]byte("a longer input that writes many odd rows at once, deny lines included"),
	}
}

// Request is one question to ask both Casbin and the compiled policy.
type Request struct {
	Subject    rbac.Subject
	Permission rbac.Permission
	Scope      rbac.Scope
	At         time.Time
}

// String returns a readable form of r.
func (r Request) String() string {
	return fmt.Sprintf("%s %s at %s at %s", r.Subject, r.Permission, r.Scope, r.At.Format(time.RFC3339Nano))
}

// Requests returns every well-formed request over the pools' valid
// subjects, a spread of permissions (exact, covered only by wildcards,
// unknown), every valid scope, and instants around the windows.
func Requests() []Request {
	subjects := []rbac.Subject{"user:a", "user:b", "svc:c", "group:g", "unit:u", "user:z"}
	perms := []rbac.Permission{"permits.application.read", "permits.application.approve", "permits.fee.waive",
		"permits.inspection.close", "crm.citizen.read", "crm.citizen.sin.view", "crm.citizen.email.view", "parks.bench.paint"}
	scopes := []rbac.Scope{"org", "dept:a", "dept:b", "facility:x", "ward:1", "ward:2"}
	times := []time.Time{Noon, Noon.Add(-90 * time.Minute), Noon.Add(90 * time.Minute), Noon.Add(3 * time.Hour)}
	var out []Request
	for _, s := range subjects {
		for _, x := range perms {
			for _, sc := range scopes {
				for _, at := range times {
					out = append(out, Request{s, x, sc, at})
				}
			}
		}
	}
	return out
}

// Compare asks casbin and p every request: p must never allow what casbin
// denies, and may deny what casbin allows only when it has quarantined a
// row. It returns false, checking nothing, when casbin cannot decide over
// its rows (Casbin refuses every request over a line of the wrong length).
func Compare(t testing.TB, p *rbac.Policy, casbin func(Request) (bool, error), reqs []Request) bool {
	t.Helper()
	quarantined := len(p.Quarantine()) > 0
	bad := 0
	for _, r := range reqs {
		want, err := casbin(r)
		if err != nil {
			return false
		}
		got := p.Allows(r.Subject, r.Permission, r.Scope, r.At)
		switch {
		case got && !want:
			if bad++; bad <= 5 {
				t.Errorf("%s: allowed where Casbin denies (quarantine %+v)", r, p.Quarantine())
			}
		case !got && want && !quarantined:
			if bad++; bad <= 5 {
				t.Errorf("%s: denied where Casbin allows, and no row is quarantined", r)
			}
		}
	}
	return true
}
