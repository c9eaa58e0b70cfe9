package casbinx_test

import (
	"strings"
	"testing"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/casbinx/rowgen"
	"github.com/civic-platform/security/rbac"
)

// rowsFrom splits fuzz input into rows: one per line, fields separated by
// '|', the first field the policy type. Any bytes go: control characters,
// invalid UTF-8, empty fields, too many or too few of them.
func rowsFrom(data string) []casbinx.Row {
	var rows []casbinx.Row
	for i, line := range strings.Split(data, "\n") {
		f := strings.Split(line, "|")
		if len(f) > 7 {
			f = f[:7] // casbin_rule holds six values
		}
		v := f[1:]
		for len(v) > 0 && v[len(v)-1] == "" {
			v = v[:len(v)-1]
		}
		rows = append(rows, casbinx.Row{ID: int64(i + 1), Line: casbinx.Line{PType: f[0], Values: v}})
	}
	return rows
}

// FuzzLoadRows loads arbitrary rows next to a well-formed policy: the load
// never panics and never fails because of a row, every row either loads or
// is quarantined with its id, and the quarantined rows grant nothing (the
// policy loaded from the other rows alone allows at least as much).
func FuzzLoadRows(f *testing.F) {
	for _, s := range []string{
		"p|user:x|role:r1|org|00000000000000000000|99999999999999999999|allow",
		"p|user:x|role:r1|org|00000000000000000000|99999999999999999999|deny",
		"p|user:a|role:r1|org|-0000000000000000001|99999999999999999999|allow\np|user:a|role:r1|org|-0000000000000000001|99999999999999999999|deny",
		"p|user:a|role:r1|org|99999999999999999999|00000000000000000000|allow\np|user:a|role:r1|org|99999999999999999999|00000000000000000000|deny",
		"g|user:a|group:g\ng|group:g|group:h\ng|user:\x00|unit:u",
		"g2|role:r1|role:r3\ng2|role:r0|deny:\ng2|meta:role|deny:permits.*\ng2|role:r9|role:ghost",
		"g3|dept:a|dept:b\ng3|dept:b|dept:a\ng3|org|ward:1\ng3|facility:x|ward:1",
		"p|user:b|role:r3|facility:x|0|1\nx|y\n|\np",
		"p|User:B|role:r2|dept:b|01741946400000000000|01741960800000000000|allow",
	} {
		f.Add(s)
	}
	base := casbinx.Encode(rowgen.Base())
	reqs := rowgen.Requests()
	f.Fuzz(func(t *testing.T, data string) {
		extra := rowsFrom(data)
		var rows, clean []casbinx.Row
		for i, l := range base {
			r := casbinx.Row{ID: int64(100000 + i), Line: l}
			rows, clean = append(rows, r), append(clean, r)
		}
		rows = append(rows, extra...)
		m, p, err := casbinx.LoadRows(rows, nil)
		if err != nil {
			t.Fatalf("one bad row failed the whole load: %v", err)
		}
		quarantined := map[int64]bool{}
		for _, q := range m.Quarantine {
			if q.Reason == "" {
				t.Errorf("row %d quarantined without a reason", q.ID)
			}
			quarantined[q.ID] = true
		}
		var loaded []casbinx.Row
		for _, r := range rows {
			if !quarantined[r.ID] {
				loaded = append(loaded, r)
			}
		}
		_, alone, err := casbinx.LoadRows(loaded, nil)
		if err != nil {
			t.Fatalf("the rows that loaded do not load alone: %v", err)
		}
		for _, r := range reqs {
			if p.Allows(r.Subject, r.Permission, r.Scope, r.At) && !alone.Allows(r.Subject, r.Permission, r.Scope, r.At) {
				t.Errorf("%s: allowed only thanks to a quarantined row", r)
			}
		}
		// Checks never panic, whatever the subject.
		for _, q := range m.Quarantine {
			for _, s := range q.Blocks {
				if p.Allows(s, "permits.application.read", rbac.OrgScope, rowgen.Noon) {
					t.Errorf("blocked %s allowed", s)
				}
			}
		}
	})
}

// A role flag written by another tool can make assignments already stored
// invalid: a role that is, or inherits, an emergency role is granted only
// with a window of at most a day. Those assignments are quarantined, the
// rest loads, and nothing is allowed that the assignments alone allowed.
func TestLoadRowsEmergencyFlagOnGrantedRole(t *testing.T) {
	t.Parallel()
	var rows []casbinx.Row
	for i, l := range casbinx.Encode(rowgen.Base()) {
		rows = append(rows, casbinx.Row{ID: int64(i + 1), Line: l})
	}
	rows = append(rows, casbinx.Row{ID: 1000, Line: casbinx.Line{PType: "g2", Values: []string{"role:r0", "meta:emergency"}}})
	m, p, err := casbinx.LoadRows(rows, nil)
	if err != nil {
		t.Fatalf("an emergency flag failed the whole load: %v", err)
	}
	// r0 is granted to unit:u, r1 (inherits r0) to group:g, r3 (inherits
	// r1) to user:b: six lines, none with a closed window of a day.
	var subs []string
	for _, q := range m.Quarantine {
		subs = append(subs, q.Values[0])
	}
	if len(m.Quarantine) != 6 {
		t.Fatalf("quarantined %d rows (%v), want the six lines of the three assignments", len(m.Quarantine), subs)
	}
	if len(m.Grants) != 2 {
		t.Errorf("%d grants loaded, want the two of r2", len(m.Grants))
	}
	for _, sub := range []rbac.Subject{"unit:u", "svc:c", "group:g", "user:a", "user:b"} {
		if p.Allows(sub, "permits.application.read", rbac.OrgScope, rowgen.Noon) {
			t.Errorf("%s reads permits through a quarantined assignment", sub)
		}
	}
	// The deny twins of r1 and r3 (which deny something) block their
	// holders, and the members of a blocked group; r0 denies nothing.
	for sub, want := range map[rbac.Subject]bool{"user:b": true, "group:g": true, "user:a": true, "unit:u": false, "svc:c": false} {
		if got := p.Quarantined(sub); got != want {
			t.Errorf("Quarantined(%s) = %v, want %v", sub, got, want)
		}
	}
}
