package rbac_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/casbinx/rowgen"
	"github.com/civic-platform/security/rbac"
)

// fuzzNoon anchors the instants of FuzzMatchesCasbin. The window edges are
// a nanosecond apart in places, so that off-by-one comparisons show.
var (
	fuzzNoon  = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	fuzzEdges = []time.Time{fuzzNoon.Add(-2 * time.Hour), fuzzNoon, fuzzNoon.Add(time.Nanosecond), fuzzNoon.Add(3 * time.Hour)}
	fuzzExact = []rbac.Permission{
		"permits.application.read", "permits.application.approve", "permits.fee.waive",
		"crm.citizen.read", "crm.citizen.sin.view", "crm.citizen.sin.edit", "hr.employee.salary.view",
	}
	fuzzRules = append([]rbac.Permission{
		"permits.*", "permits.application.*", "crm.*", "crm.citizen.*", "crm.citizen.sin.*", "hr.employee.salary.*",
	}, fuzzExact...)
	// fuzzCatalog are permissions the model may know only from its catalog,
	// so that only wildcards cover them.
	fuzzCatalog = []rbac.Permission{"permits.inspection.close", "crm.citizen.dob.view", "hr.employee.sin.view"}
	fuzzHolders = []rbac.Subject{"user:a", "user:b", "svc:c", "group:g", "unit:u"}
	fuzzScopes  = []rbac.Scope{rbac.OrgScope, "dept:a", "dept:b", "facility:x", "facility:y", "ward:1", "ward:2"}
)

// fuzzBytes hands out the fuzz input one byte at a time, zeros when it
// runs out.
type fuzzBytes struct {
	data []byte
	i    int
}

func (b *fuzzBytes) next() int {
	if b.i >= len(b.data) {
		return 0
	}
	b.i++
	return int(b.data[b.i-1])
}

// fuzzModel builds a small, acyclic model from the fuzz input: up to five
// roles inheriting only from earlier ones, with exact, wildcard and deny
// rules; a scope tree with a facility under a department (and sometimes a
// facility under that facility); three principals in a group and a unit;
// up to seven grants at declared and undeclared scopes, with windows whose
// edges are a nanosecond apart.
func fuzzModel(data []byte) rbac.Model {
	b := &fuzzBytes{data: data}
	var m rbac.Model

	catalog := b.next()
	for i, x := range fuzzCatalog {
		if catalog&(1<<i) != 0 {
			m.Permissions = append(m.Permissions, x)
		}
	}

	tree := b.next()
	m.Scopes = append(m.Scopes, rbac.ScopeNode{Scope: "dept:a", Parent: rbac.OrgScope})
	if tree&1 != 0 {
		m.Scopes = append(m.Scopes, rbac.ScopeNode{Scope: "dept:b"}) // parent "" is org
	}
	if tree&2 != 0 {
		m.Scopes = append(m.Scopes, rbac.ScopeNode{Scope: "facility:x", Parent: "dept:a"})
		if tree&4 != 0 {
			m.Scopes = append(m.Scopes, rbac.ScopeNode{Scope: "facility:y", Parent: "facility:x"})
		}
	}
	if tree&8 != 0 {
		m.Scopes = append(m.Scopes, rbac.ScopeNode{Scope: "ward:1"})
	}

	nRoles := 1 + b.next()%5
	for i := range nRoles {
		r := rbac.Role{ID: rbac.RoleID(fmt.Sprintf("r%d", i))}
		flags := b.next()
		for j := range i {
			if flags&(1<<j) != 0 {
				r.Inherits = append(r.Inherits, rbac.RoleID(fmt.Sprintf("r%d", j)))
			}
		}
		r.Emergency = flags&0xf0 == 0xf0
		r.Composite = flags&0x20 != 0
		for range b.next() % 4 {
			x := b.next()
			rule := fuzzRules[x&0x7f%len(fuzzRules)]
			if x&0x80 != 0 {
				r.Deny = append(r.Deny, rule)
			} else {
				r.Permissions = append(r.Permissions, rule)
			}
		}
		m.Roles = append(m.Roles, r)
	}

	members := b.next()
	for i, u := range fuzzHolders[:3] {
		if members&(1<<(2*i)) != 0 {
			m.Members = append(m.Members, rbac.Membership{Member: u, Group: "group:g"})
		}
		if members&(1<<(2*i+1)) != 0 {
			m.Members = append(m.Members, rbac.Membership{Member: u, Group: "unit:u"})
		}
	}

	seen := map[rbac.GrantKey]bool{}
	for range b.next() % 8 {
		g := rbac.Grant{
			Subject: fuzzHolders[b.next()%len(fuzzHolders)],
			Role:    m.Roles[b.next()%len(m.Roles)].ID,
			Scope:   fuzzScopes[b.next()%len(fuzzScopes)],
		}
		w := b.next()
		from, until := fuzzEdges[(w>>2)%4], fuzzEdges[(w>>4)%4]
		switch w % 4 {
		case 1:
			g.NotBefore = from
		case 2:
			g.NotAfter = until
		case 3:
			if until.Before(from) {
				from, until = until, from
			}
			if from.Equal(until) {
				until = until.Add(time.Nanosecond)
			}
			g.NotBefore, g.NotAfter = from, until
		}
		if seen[g.Key()] {
			continue
		}
		seen[g.Key()] = true
		m.Grants = append(m.Grants, g)
	}
	return m
}

// fuzzQueries returns the query set for m: the subjects it names, every
// permission a rule or the catalog names plus, for each wildcard, one under
// it that nothing names; org, every declared or granted scope and one that
// is neither; noon, and each window edge and the nanosecond before it.
func fuzzQueries(m rbac.Model) (subjects []rbac.Subject, perms []rbac.Permission, scopes []rbac.Scope, times []time.Time) {
	add := func(list *[]rbac.Permission, x rbac.Permission) {
		if !slices.Contains(*list, x) {
			*list = append(*list, x)
		}
	}
	for _, h := range fuzzHolders {
		named := slices.ContainsFunc(m.Grants, func(g rbac.Grant) bool { return g.Subject == h }) ||
			slices.ContainsFunc(m.Members, func(ms rbac.Membership) bool { return ms.Member == h || ms.Group == h })
		if named {
			subjects = append(subjects, h)
		}
	}
	for _, r := range m.Roles {
		for _, x := range slices.Concat(r.Permissions, r.Deny) {
			if !x.IsWildcard() {
				add(&perms, x)
				continue
			}
			if prefix := x[:len(x)-1]; strings.Count(string(prefix), ".") == 1 {
				add(&perms, prefix+"zzz.read")
			} else {
				add(&perms, prefix+"zzz")
			}
		}
	}
	for _, x := range m.Permissions {
		add(&perms, x)
	}
	scopes = []rbac.Scope{rbac.OrgScope, "ward:9"}
	for _, n := range m.Scopes {
		scopes = append(scopes, n.Scope)
	}
	for _, g := range m.Grants {
		if !slices.Contains(scopes, g.Scope) {
			scopes = append(scopes, g.Scope)
		}
	}
	times = []time.Time{fuzzNoon}
	for _, g := range m.Grants {
		for _, edge := range []time.Time{g.NotBefore, g.NotAfter} {
			if edge.IsZero() {
				continue
			}
			for _, t := range []time.Time{edge, edge.Add(-time.Nanosecond)} {
				if !slices.ContainsFunc(times, t.Equal) {
					times = append(times, t)
				}
			}
		}
	}
	return subjects, perms, scopes, times
}

// FuzzMatchesCasbin checks the compiled policy against a plain Casbin
// enforcer, the reference semantics, on the same small random model, for
// every combination of a fixed set of subjects, permissions, scopes and
// instants.
func FuzzMatchesCasbin(f *testing.F) {
	f.Add([]byte{3, 1, 0, 2, 1, 0, 3, 4, 0, 1, 1, 2})
	// Roles with wildcards and denies, a group and a unit, windows with
	// nanosecond-apart edges.
	f.Add([]byte{7, 0x0f, 2, 0, 3, 6, 1, 0x88, 1, 2, 3, 0x84, 0x23, 1, 12, 0x09, 6,
		0, 1, 1, 0, 3, 0, 0, 0x1b, 4, 2, 3, 1, 1, 2, 6, 0x3e, 2, 1, 4, 0, 0, 2, 5, 0x0d})
	// An emergency role granted for bounded windows.
	f.Add([]byte{0, 0x03, 1, 0, 2, 0, 0x84, 0xf1, 1, 9, 0x3f, 3, 0, 1, 0, 0x13, 3, 0, 1, 0, 1, 1, 2, 0x33})
	// A five-role chain, a facility under a facility, a catalog-only permission.
	f.Add([]byte{2, 0x0e, 4, 0, 2, 3, 0x8a, 1, 1, 0, 2, 1, 0x85, 4, 1, 12, 8, 0, 0x06, 5,
		0, 4, 3, 0, 4, 3, 1, 2, 3, 1, 4, 0x25, 2, 0, 5, 0, 1, 2, 0, 0})
	f.Add([]byte("a longer input that exercises many roles and grants at once"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := fuzzModel(data)
		p, err := rbac.Compile(m)
		if err != nil {
			t.Skip(err)
		}
		e, err := casbinx.NewEnforcer(m)
		if err != nil {
			t.Fatalf("casbinx.NewEnforcer on a model that compiles: %v", err)
		}
		// Each Casbin Enforce costs tens of microseconds, and the fuzzer
		// minimises every new input by running it many times, so the
		// query set is drawn from the model: what it could tell apart.
		subjects, perms, scopes, times := fuzzQueries(m)
		bad := 0
		for _, q := range []struct {
			sub rbac.Subject
			x   rbac.Permission
		}{{"user:ghost", "crm.citizen.read"}, {"user:a", "zoo.animal.feed"}} {
			want, err := casbinx.Enforce(e, q.sub, q.x, rbac.OrgScope, fuzzNoon)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Allows(q.sub, q.x, rbac.OrgScope, fuzzNoon); got != want {
				bad++
				t.Errorf("%s %s at org: rbac says %v, casbin says %v", q.sub, q.x, got, want)
			}
		}
		for _, sub := range subjects {
			for _, x := range perms {
				for _, s := range scopes {
					for _, at := range times {
						want, err := casbinx.Enforce(e, sub, x, s, at)
						if err != nil {
							t.Fatal(err)
						}
						got := p.Allows(sub, x, s, at)
						if got != want {
							if bad++; bad <= 5 {
								t.Errorf("%s %s at %s at %s: rbac says %v, casbin says %v", sub, x, s, at.Format(time.RFC3339Nano), got, want)
							}
						}
						// Permissions lists what Allows allows.
						held, err := p.Permissions(sub, s, at)
						if err != nil {
							t.Fatal(err)
						}
						if with := slices.Contains(held, x); with != got && p.KnowsPermission(x) {
							t.Errorf("%s %s at %s at %s: Allows says %v, Permissions %v", sub, x, s, at.Format(time.RFC3339Nano), got, held)
						}
					}
				}
			}
		}
		if bad > 0 {
			t.Logf("%d disagreements; model: %+v", bad, m)
		}
	})
}

// FuzzRowsMatchCasbin writes rows the way a plain Casbin enforcer can —
// assignments with any values, lone allow and deny lines, one twin without
// the other, memberships, role and scope edges this module refuses — and
// compares a Casbin enforcer over them with the policy casbinx.LoadRows
// builds from the same rows. The policy must load whatever the rows, must
// never allow what Casbin denies, and may deny what Casbin allows only when
// it has quarantined a row; with no row quarantined the two agree exactly.
// A row set Casbin itself cannot load or decide over (it refuses a line of
// the wrong length) has no reference answer, and only the load is checked.
func FuzzRowsMatchCasbin(f *testing.F) {
	for _, seed := range rowgen.Seeds() {
		f.Add(seed)
	}
	reqs := rowgen.Requests()
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := rowgen.Lines(data)
		rows := make([]casbinx.Row, len(lines))
		for i, l := range lines {
			rows[i] = casbinx.Row{ID: int64(i + 1), Line: l}
		}
		m, p, err := casbinx.LoadRows(rows, nil)
		if err != nil {
			t.Fatalf("rows failed the whole load: %v", err)
		}
		checkQuarantine(t, m, p, rows)
		e, err := casbinx.NewEnforcerFromLines(lines)
		if err != nil {
			return // Casbin cannot load these rows: no reference answer
		}
		rowgen.Compare(t, p, func(r rowgen.Request) (bool, error) {
			return casbinx.Enforce(e, r.Subject, r.Permission, r.Scope, r.At)
		}, reqs)
	})
}

// checkQuarantine checks that every row either loaded or is quarantined
// with its id and a reason, and that a quarantined row grants nothing: the
// policy built without it decides exactly as the loaded one.
func checkQuarantine(t *testing.T, m rbac.Model, p *rbac.Policy, rows []casbinx.Row) {
	t.Helper()
	ids := map[int64]bool{}
	for _, q := range m.Quarantine {
		if q.Reason == "" {
			t.Errorf("row %d quarantined without a reason", q.ID)
		}
		if !slices.ContainsFunc(rows, func(r casbinx.Row) bool {
			return r.ID == q.ID && r.PType == q.PType && slices.Equal(r.Values, q.Values)
		}) {
			t.Errorf("quarantined row %+v is not a stored row", q)
		}
		ids[q.ID] = true
	}
	if got := p.Quarantine(); len(got) != len(m.Quarantine) {
		t.Errorf("policy reports %d quarantined rows, model %d", len(got), len(m.Quarantine))
	}
	// The loaded rows alone give the same model and the same answers.
	var kept []casbinx.Row
	for _, r := range rows {
		if !ids[r.ID] {
			kept = append(kept, r)
		}
	}
	m2, p2, err := casbinx.LoadRows(kept, nil)
	if err != nil {
		t.Fatalf("the rows that loaded do not load alone: %v", err)
	}
	if len(m2.Quarantine) != 0 {
		t.Errorf("rows that loaded are quarantined when loaded alone: %+v", m2.Quarantine)
	}
	for _, r := range rowgen.Requests() {
		if got, clean := p.Allows(r.Subject, r.Permission, r.Scope, r.At), p2.Allows(r.Subject, r.Permission, r.Scope, r.At); got && !clean {
			t.Errorf("%s: allowed only thanks to a quarantined row", r)
		}
	}
}
