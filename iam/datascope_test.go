package iam_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

// A bylaw clerk sees the cases of their ward; an inspector, those of the
// bylaw department assigned to them; someone with no grant, nothing.
func ExampleAuthorizer_Filter() {
	ctx := context.Background()
	store := iamtest.NewStore(rbac.Model{
		Roles: []rbac.Role{
			{ID: "bylaw-clerk", Permissions: []rbac.Permission{"bylaw.case.read"}},
			{ID: "inspector", Permissions: []rbac.Permission{"bylaw.case.read", "bylaw.case.close"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:alice", Role: "bylaw-clerk", Scope: "ward:7"},
			{Subject: "user:bob", Role: "inspector", Scope: "dept:bylaw"},
		},
	})
	authz, err := iam.New(ctx, store)
	if err != nil {
		fmt.Println("new:", err)
		return
	}
	defer authz.Close()

	// Data-scope rules are configuration, loaded once at start-up.
	scoper, err := iam.NewScoper(iam.DataScopes{
		Rules: []iam.DataRule{
			{Role: "inspector", Permission: "bylaw.case.*", Rule: "inspector = subject.id and status != 'closed'"},
		},
	})
	if err != nil {
		fmt.Println("scoper:", err)
		return
	}
	columns := map[string]string{"department": "dept_id", "ward": "ward_id", "facility": "facility_id", "inspector": "inspector", "status": "status"}

	for _, sub := range []iam.Subject{"user:alice", "user:bob", "user:mallory"} {
		f, err := authz.Filter(ctx, sub, "bylaw.case.read", scoper)
		if err != nil {
			fmt.Println("filter:", err)
			return
		}
		where, args, err := f.SQL(abac.Postgres, columns)
		if err != nil {
			fmt.Println("sql:", err)
			return
		}
		fmt.Printf("%s: %v\n  WHERE %s %q\n", sub, f, where, args)
	}

	// The same decision for one record already in memory.
	c := abac.Map{"department": "bylaw", "inspector": "user:bob", "status": "open"}
	d, err := authz.CheckRecord(ctx, "user:bob", "bylaw.case.read", scoper, c)
	if err != nil {
		fmt.Println("check record:", err)
		return
	}
	fmt.Println(d.Allowed, d.Reason)
	// Output:
	// user:alice: ward = '7'
	//   WHERE (ward_id = $1) ["7"]
	// user:bob: department = 'bylaw' and inspector = 'user:bob' and status != 'closed'
	//   WHERE (dept_id = $1 AND inspector = $2 AND status <> $3) ["bylaw" "user:bob" "closed"]
	// user:mallory: none
	//   WHERE (1 = 0) []
	// true allowed by role inspector at dept:bylaw under data rule 1
}

var dsNoon = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// dsCity is the policy of the data-scope tests.
func dsCity() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:social"}, {Scope: "dept:roads"},
			{Scope: "facility:shelter", Parent: "dept:social"},
			{Scope: "ward:7"}, {Scope: "ward:3"},
		},
		Roles: []rbac.Role{
			{ID: "case-reader", Permissions: []rbac.Permission{"social.case.read"}},
			{ID: "caseworker", Inherits: []rbac.RoleID{"case-reader"}, Permissions: []rbac.Permission{"social.case.update"}},
			{ID: "supervisor", Permissions: []rbac.Permission{"social.*"}},
			{ID: "lead", Inherits: []rbac.RoleID{"caseworker"}},
			{ID: "no-read", Deny: []rbac.Permission{"social.case.read"}},
			{ID: "conflicted", Permissions: []rbac.Permission{"social.case.read"}, Deny: []rbac.Permission{"social.*"}},
			{ID: "roads-clerk", Permissions: []rbac.Permission{"roads.permit.read"}},
		},
		Members: []rbac.Membership{{Member: "user:gina", Group: "group:intake"}},
		Grants: []rbac.Grant{
			{Subject: "user:olga", Role: "case-reader", Scope: "org"},
			{Subject: "user:dan", Role: "case-reader", Scope: "dept:social"},
			{Subject: "user:wes", Role: "case-reader", Scope: "ward:7"},
			{Subject: "user:wes", Role: "case-reader", Scope: "ward:3"},
			{Subject: "user:fay", Role: "case-reader", Scope: "facility:shelter"},
			{Subject: "group:intake", Role: "case-reader", Scope: "ward:3"},
			{Subject: "user:cal", Role: "caseworker", Scope: "dept:social"},
			{Subject: "user:lee", Role: "lead", Scope: "dept:social"},
			{Subject: "user:sue", Role: "supervisor", Scope: "org"},
			{Subject: "user:old", Role: "case-reader", Scope: "org", NotAfter: dsNoon.Add(-time.Minute)},
			{Subject: "user:new", Role: "case-reader", Scope: "org", NotBefore: dsNoon.Add(time.Minute)},
			{Subject: "user:den", Role: "case-reader", Scope: "org"},
			{Subject: "user:den", Role: "no-read", Scope: "ward:7"},
			{Subject: "user:den", Role: "no-read", Scope: "dept:roads"},
			{Subject: "user:nob", Role: "case-reader", Scope: "ward:7"},
			{Subject: "user:nob", Role: "no-read", Scope: "org"},
			{Subject: "user:con", Role: "conflicted", Scope: "ward:7"},
			{Subject: "user:con", Role: "case-reader", Scope: "ward:3"},
			{Subject: "user:rob", Role: "roads-clerk", Scope: "org"},
		},
	}
}

var dsRules = []iam.DataRule{
	{Role: "caseworker", Permission: "social.case.read", Rule: "owner = subject.id"},
	{Role: "supervisor", Permission: "social.*", Rule: "level in subject.levels"},
	{Role: "supervisor", Permission: "social.case.update", Rule: "status = 'open'"},
	{Role: "no-read", Permission: "social.case.read", Rule: "status = 'open'"}, // a role that does not allow: no effect
}

// sueAttributes is what a directory cache would hold; sources must not
// modify a map they have returned, and Scopers do not either.
var sueAttributes = abac.Attributes{"levels": {1, 2}}

func dsAttributes(_ context.Context, sub iam.Subject) (abac.Attributes, error) {
	switch sub {
	case "user:sue":
		return sueAttributes, nil
	case "user:err":
		return nil, errors.New("directory unavailable")
	}
	return nil, nil
}

func newScoped(t testing.TB, m rbac.Model, cfg iam.DataScopes, opts ...iam.Option) (*iam.Authorizer, *iam.Scoper) {
	t.Helper()
	a, err := iam.New(context.Background(), iamtest.NewStore(m), append([]iam.Option{iam.WithClock(iamtest.Clock(dsNoon))}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	sc, err := iam.NewScoper(cfg)
	if err != nil {
		t.Fatalf("NewScoper: %v", err)
	}
	return a, sc
}

func TestFilter(t *testing.T) {
	t.Parallel()
	a, sc := newScoped(t, dsCity(), iam.DataScopes{Rules: dsRules, Attributes: iam.AttributesFunc(dsAttributes)})
	tests := []struct {
		name string
		sub  iam.Subject
		perm iam.Permission
		want string // Filter.String
	}{
		{"org grant without rules", "user:olga", "social.case.read", "all"},
		{"dept grant covers the facilities beneath it", "user:dan", "social.case.read", "(department = 'social') or (facility = 'shelter')"},
		{"two ward grants", "user:wes", "social.case.read", "(ward = '7') or (ward = '3')"},
		{"facility grant", "user:fay", "social.case.read", "facility = 'shelter'"},
		{"through a group", "user:gina", "social.case.read", "ward = '3'"},
		{"no grant", "user:zed", "social.case.read", "none"},
		{"permission not held", "user:dan", "social.case.update", "none"},
		{"unknown permission", "user:olga", "social.case.delete", "none"},
		{"expired grant", "user:old", "social.case.read", "none"},
		{"grant not yet in force", "user:new", "social.case.read", "none"},
		{"rule on the granted role", "user:cal", "social.case.read", "(department = 'social' and owner = 'user:cal') or (facility = 'shelter' and owner = 'user:cal')"},
		{"rule for another permission does not apply", "user:cal", "social.case.update", "(department = 'social') or (facility = 'shelter')"},
		{"rule inherited through a parent role", "user:lee", "social.case.read", "(department = 'social' and owner = 'user:lee') or (facility = 'shelter' and owner = 'user:lee')"},
		{"wildcard rule and exact rule together", "user:sue", "social.case.update", "(level in (1, 2)) or (status = 'open')"},
		{"wildcard rule covers an unlisted permission", "user:sue", "social.report.export", "level in (1, 2)"},
		{"deny at two scopes", "user:den", "social.case.read",
			// A record is shown outside ward 7 only by naming another known
			// ward, and outside dept:roads only by naming another known
			// department or a scope beneath one: no "or null".
			"(ward = '3' and department = 'social') or (ward = '3' and facility = 'shelter' and department != 'roads') or (ward = '3' and facility = 'shelter' and department is null)"},
		{"deny at org", "user:nob", "social.case.read", "none"},
		{"role that allows and denies", "user:con", "social.case.read", "ward = '3'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := a.Filter(context.Background(), tt.sub, tt.perm, sc)
			if err != nil {
				t.Fatalf("Filter: %v", err)
			}
			if got := f.String(); got != tt.want {
				t.Errorf("Filter = %s\nwant     %s", got, tt.want)
			}
		})
	}
}

func TestFilterAttributes(t *testing.T) {
	t.Parallel()
	m := dsCity()
	m.Grants = append(m.Grants,
		rbac.Grant{Subject: "user:err", Role: "caseworker", Scope: "org"},
		rbac.Grant{Subject: "user:err", Role: "case-reader", Scope: "ward:7"},
		rbac.Grant{Subject: "user:bare", Role: "supervisor", Scope: "org"},
		rbac.Grant{Subject: "user:bare", Role: "case-reader", Scope: "ward:3"},
	)
	a, sc := newScoped(t, m, iam.DataScopes{Rules: dsRules, Attributes: iam.AttributesFunc(dsAttributes)})
	ctx := context.Background()

	// A source error fails closed, even for grants that need no attributes.
	f, err := a.Filter(ctx, "user:err", "social.case.read", sc)
	if err == nil || !strings.Contains(err.Error(), "directory unavailable") || !f.MatchesNone() || f.MatchesAll() {
		t.Errorf("source error: filter %v, err %v", f, err)
	}
	d, err := a.CheckRecord(ctx, "user:err", "social.case.read", sc, abac.Map{"ward": "7"})
	if err == nil || d.Allowed {
		t.Errorf("source error: CheckRecord %+v, %v", d, err)
	}

	// A missing attribute drops the supervisor's org grant; the ward grant stays.
	f, err = a.Filter(ctx, "user:bare", "social.case.read", sc)
	if err != nil || f.String() != "ward = '3'" {
		t.Errorf("missing attribute: filter %v, err %v", f, err)
	}

	// subject.id is always the whole subject; a source cannot override it.
	sc2, err := iam.NewScoper(iam.DataScopes{Rules: dsRules, Attributes: iam.AttributesFunc(
		func(context.Context, iam.Subject) (abac.Attributes, error) {
			return abac.Attributes{"id": {int64(17)}}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	f, err = a.Filter(ctx, "user:cal", "social.case.read", sc2)
	if err != nil || f.String() != "(department = 'social' and owner = 'user:cal') or (facility = 'shelter' and owner = 'user:cal')" {
		t.Errorf("id override: filter %v, err %v", f, err)
	}
}

func TestFilterBadInput(t *testing.T) {
	t.Parallel()
	a, sc := newScoped(t, dsCity(), iam.DataScopes{})
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		sub  iam.Subject
		perm iam.Permission
		sc   *iam.Scoper
	}{
		{"bad subject", "alice", "social.case.read", sc},
		{"wildcard permission", "user:olga", "social.*", sc},
		{"bad permission", "user:olga", "social case read", sc},
		{"nil scoper", "user:olga", "social.case.read", nil},
	} {
		f, err := a.Filter(ctx, tt.sub, tt.perm, tt.sc)
		if !errors.Is(err, iam.ErrInvalidInput) || !f.MatchesNone() {
			t.Errorf("%s: Filter = %v, %v; want None and ErrInvalidInput", tt.name, f, err)
		}
		d, err := a.CheckRecord(ctx, tt.sub, tt.perm, tt.sc, abac.Map{})
		if !errors.Is(err, iam.ErrInvalidInput) || d.Allowed {
			t.Errorf("%s: CheckRecord = %+v, %v; want deny and ErrInvalidInput", tt.name, d, err)
		}
	}
	a.Close()
	if f, err := a.Filter(ctx, "user:olga", "social.case.read", sc); !errors.Is(err, iam.ErrClosed) || !f.MatchesNone() {
		t.Errorf("closed: %v, %v", f, err)
	}
}

func TestNewScoperRefusesBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  iam.DataScopes
		also error
	}{
		{"rule text", iam.DataScopes{Rules: []iam.DataRule{{Role: "clerk", Permission: "a.b.c", Rule: "ward = 7; DROP TABLE cases"}}}, abac.ErrInvalidRule},
		{"empty rule", iam.DataScopes{Rules: []iam.DataRule{{Role: "clerk", Permission: "a.b.c"}}}, abac.ErrInvalidRule},
		{"role", iam.DataScopes{Rules: []iam.DataRule{{Role: "Clerk'", Permission: "a.b.c", Rule: "ward = 7"}}}, nil},
		{"permission", iam.DataScopes{Rules: []iam.DataRule{{Role: "clerk", Permission: "a.*.c", Rule: "ward = 7"}}}, nil},
		{"field", iam.DataScopes{Fields: iam.ScopeFields{Ward: "ward; --"}}, nil},
		{"reserved field", iam.DataScopes{Fields: iam.ScopeFields{Dept: "subject"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sc, err := iam.NewScoper(tt.cfg)
			if sc != nil || !errors.Is(err, iam.ErrInvalidInput) {
				t.Fatalf("NewScoper = %v, %v; want ErrInvalidInput", sc, err)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("err = %v; want it to wrap %v", err, tt.also)
			}
			if len(tt.cfg.Rules) > 0 {
				var dre *iam.DataRuleError
				if !errors.As(err, &dre) || dre.Index != 0 || dre.Role != tt.cfg.Rules[0].Role {
					t.Errorf("err = %v; want a *DataRuleError for rule 0", err)
				}
			}
		})
	}
	// Every bad rule is reported, not only the first.
	_, err := iam.NewScoper(iam.DataScopes{Rules: []iam.DataRule{
		{Role: "a", Permission: "a.b.c", Rule: "x = 1"}, {Role: "b", Permission: "a.b.c", Rule: "x ="}, {Role: "c", Permission: "a.b.c", Rule: "y"},
	}})
	if err == nil || !strings.Contains(err.Error(), "data rule 1") || !strings.Contains(err.Error(), "data rule 2") {
		t.Errorf("err = %v; want rules 1 and 2 reported", err)
	}
}

func TestScoperFields(t *testing.T) {
	t.Parallel()
	sc, err := iam.NewScoper(iam.DataScopes{Rules: dsRules, Fields: iam.ScopeFields{Dept: "dept_id"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dept_id", "facility", "level", "owner", "status", "ward"}
	if got := sc.Fields(); !slices.Equal(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
}

func TestFilterCustomScopeFields(t *testing.T) {
	t.Parallel()
	a, sc := newScoped(t, dsCity(), iam.DataScopes{Fields: iam.ScopeFields{Dept: "dept_code", Facility: "site"}})
	ctx := context.Background()
	for sub, want := range map[iam.Subject]string{"user:dan": "(dept_code = 'social') or (site = 'shelter')", "user:fay": "site = 'shelter'", "user:wes": "(ward = '7') or (ward = '3')"} {
		f, err := a.Filter(ctx, sub, "social.case.read", sc)
		if err != nil || f.String() != want {
			t.Errorf("%s: %v, %v; want %s", sub, f, err, want)
		}
	}
}

// TestFilterFollowsPolicyChanges checks that an applied change shows in the
// very next filter: the grant index is rebuilt for each new snapshot.
func TestFilterFollowsPolicyChanges(t *testing.T) {
	t.Parallel()
	a, sc := newScoped(t, dsCity(), iam.DataScopes{Rules: dsRules, Attributes: iam.AttributesFunc(dsAttributes)})
	ctx := context.Background()
	get := func() string {
		t.Helper()
		f, err := a.Filter(ctx, "user:dan", "social.case.read", sc)
		if err != nil {
			t.Fatal(err)
		}
		return f.String()
	}
	if got := get(); got != "(department = 'social') or (facility = 'shelter')" {
		t.Fatalf("before: %s", got)
	}
	if _, err := iam.AdminOf(a).Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:dan", Role: "case-reader", Scope: "ward:7"}}}); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "(department = 'social') or (facility = 'shelter') or (ward = '7')" {
		t.Errorf("after grant: %s", got)
	}
	if _, err := iam.AdminOf(a).Apply(ctx, rbac.Change{PutRoles: []rbac.Role{{ID: "case-reader", Permissions: []rbac.Permission{"social.case.list"}}}}); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "none" {
		t.Errorf("after the role lost the permission: %s", got)
	}
}

func BenchmarkFilter(b *testing.B) {
	m := dsCity()
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:sue", Role: "caseworker", Scope: "ward:7"})
	a, sc := newScoped(b, m, iam.DataScopes{Rules: dsRules, Attributes: iam.AttributesFunc(dsAttributes)})
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		sub  iam.Subject
	}{
		{"scope-only", "user:wes"},
		{"rules", "user:sue"},
		{"deny", "user:den"},
	} {
		if _, err := a.Filter(ctx, bc.sub, "social.case.read", sc); err != nil { // warm
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := a.Filter(ctx, bc.sub, "social.case.read", sc); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// TestFilterFollowsTheClock checks that a cached filter stops being used
// at the instant a grant starts or ends, with the cache on and off.
func TestFilterFollowsTheClock(t *testing.T) {
	t.Parallel()
	for _, cache := range []int{50_000, 0} {
		t.Run(fmt.Sprintf("cache=%d", cache), func(t *testing.T) {
			t.Parallel()
			m := dsCity()
			m.Grants = append(m.Grants,
				rbac.Grant{Subject: "user:tmp", Role: "case-reader", Scope: "ward:7", NotBefore: dsNoon.Add(time.Hour), NotAfter: dsNoon.Add(2 * time.Hour)},
				rbac.Grant{Subject: "user:tmp", Role: "case-reader", Scope: "dept:social"},
			)
			clk := dsNoon
			var mu sync.Mutex
			now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clk }
			set := func(t time.Time) { mu.Lock(); defer mu.Unlock(); clk = t }
			a, sc := newScoped(t, m, iam.DataScopes{}, iam.WithClock(now), iam.WithSubjectCache(cache))
			const social = "(department = 'social') or (facility = 'shelter')"
			for _, step := range []struct {
				at   time.Duration
				want string
			}{
				{0, social},
				{time.Hour - 1, social},
				{time.Hour, "(ward = '7') or (department = 'social') or (facility = 'shelter')"},
				{2*time.Hour - 1, "(ward = '7') or (department = 'social') or (facility = 'shelter')"},
				{2 * time.Hour, social},
				{0, social}, // a clock that goes back
			} {
				set(dsNoon.Add(step.at))
				f, err := a.Filter(context.Background(), "user:tmp", "social.case.read", sc)
				if err != nil {
					t.Fatal(err)
				}
				if got := f.String(); got != step.want {
					t.Errorf("at noon+%v: %s, want %s", step.at, got, step.want)
				}
			}
		})
	}
}

// TestFilterDuringReloads runs filters while the policy changes, for the
// race detector, and checks that every filter is one of the two possible.
func TestFilterDuringReloads(t *testing.T) {
	t.Parallel()
	a, sc := newScoped(t, dsCity(), iam.DataScopes{Rules: dsRules, Attributes: iam.AttributesFunc(dsAttributes)})
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				f, err := a.Filter(ctx, "user:dan", "social.case.read", sc)
				if err != nil {
					t.Error(err)
					return
				}
				if s := f.String(); s != "(department = 'social') or (facility = 'shelter')" && s != "(department = 'social') or (facility = 'shelter') or (ward = '3')" {
					t.Errorf("unexpected filter %s", s)
					return
				}
			}
		}()
	}
	key := rbac.GrantKey{Subject: "user:dan", Role: "case-reader", Scope: "ward:3"}
	for range 20 {
		if _, err := iam.AdminOf(a).Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: key.Subject, Role: key.Role, Scope: key.Scope}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := iam.AdminOf(a).Apply(ctx, rbac.Change{Revoke: []rbac.GrantKey{key}}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestFilterUnderEmergencyAccessIsAudited(t *testing.T) {
	t.Parallel()
	m := dsCity()
	m.Roles = append(m.Roles, rbac.Role{ID: "flood-response", Emergency: true, Inherits: []rbac.RoleID{"case-reader"}})
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:eoc", Role: "flood-response", Scope: "ward:7",
		NotBefore: dsNoon.Add(-time.Hour), NotAfter: dsNoon.Add(time.Hour), Reason: "flood"})
	rec := &iamtest.Recorder{}
	a, sc := newScoped(t, m, iam.DataScopes{}, iam.WithAuditSink(rec))
	ctx := context.Background()
	if _, err := a.Filter(ctx, "user:dan", "social.case.read", sc); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Events()); n != 0 {
		t.Fatalf("%d events for an ordinary filter", n)
	}
	f, err := a.Filter(ctx, "user:eoc", "social.case.read", sc)
	if err != nil || f.String() != "ward = '7'" {
		t.Fatalf("Filter = %v, %v", f, err)
	}
	d, err := a.CheckRecord(ctx, "user:eoc", "social.case.read", sc, abac.Map{"ward": "7"})
	if err != nil || !d.Allowed {
		t.Fatalf("CheckRecord = %+v, %v", d, err)
	}
	evs := rec.Events()
	if len(evs) != 2 || evs[0].Type != iam.EventEmergency || evs[0].Subject != "user:eoc" ||
		evs[0].Detail["kind"] != "filter" || evs[0].Detail["filter"] != "ward = '7'" ||
		evs[1].Detail["kind"] != "record" || evs[1].Detail["allowed"] != "true" {
		t.Errorf("events %+v", evs)
	}
}

// TestScoperRefusesRulesThePolicyDoesNotSupport checks that a rule naming a
// role, permission or pairing the policy does not know is refused, whether
// the Scoper is built by the Authorizer or meets the policy at first use,
// and that a refused Scoper stays refused.
func TestScoperRefusesRulesThePolicyDoesNotSupport(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		rule iam.DataRule
	}{
		{"unknown role", iam.DataRule{Role: "case-raeder", Permission: "social.case.read", Rule: "owner = subject.id"}},
		// supervisor holds social.*, which covers the typo: the rule would
		// never apply and the grant would be unrestricted.
		{"unknown permission covered by a wildcard", iam.DataRule{Role: "supervisor", Permission: "social.case.raed", Rule: "owner = subject.id"}},
		{"wildcard covers nothing known", iam.DataRule{Role: "supervisor", Permission: "socail.*", Rule: "status = 'open'"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, sc := newScoped(t, dsCity(), iam.DataScopes{Rules: append(slices.Clone(dsRules), tt.rule)})
			for range 2 { // refused at first use, and every use after
				f, err := a.Filter(context.Background(), "user:sue", "social.case.read", sc)
				var dre *iam.DataRuleError
				if !errors.Is(err, iam.ErrInvalidInput) || !errors.As(err, &dre) || dre.Index != len(dsRules) || !f.MatchesNone() {
					t.Fatalf("Filter = %v, %v; want None and a *DataRuleError for rule %d", f, err, len(dsRules))
				}
				d, err := a.CheckRecord(context.Background(), "user:sue", "social.case.read", sc, abac.Map{})
				if !errors.Is(err, iam.ErrInvalidInput) || d.Allowed {
					t.Fatalf("CheckRecord = %+v, %v", d, err)
				}
			}
			if sc, err := verifiedScoper(a, iam.DataScopes{Rules: []iam.DataRule{tt.rule}}); sc != nil || !errors.Is(err, iam.ErrInvalidInput) {
				t.Errorf("Authorizer.NewScoper = %v, %v; want ErrInvalidInput", sc, err)
			}
		})
	}
	a, _ := newScoped(t, dsCity(), iam.DataScopes{})
	if _, err := verifiedScoper(a, iam.DataScopes{Rules: dsRules}); err != nil {
		t.Errorf("valid rules refused: %v", err)
	}
	// Attributes the source does not give are refused when names are declared.
	_, err := iam.NewScoper(iam.DataScopes{Rules: dsRules, AttributeNames: []string{"level"}})
	var dre *iam.DataRuleError
	if !errors.Is(err, iam.ErrInvalidInput) || !errors.As(err, &dre) || dre.Index != 1 || !strings.Contains(err.Error(), "subject.levels") {
		t.Errorf("unknown attribute: %v", err)
	}
	if _, err := iam.NewScoper(iam.DataScopes{Rules: dsRules, AttributeNames: []string{"levels"}}); err != nil {
		t.Errorf("declared attributes: %v", err)
	}
}

// TestDroppedRuleGrantsNothing checks that a rule the policy no longer
// supports (its role lost the permission it narrows) keeps restricting the
// grants it restricted: they admit nothing through it, never everything.
func TestDroppedRuleGrantsNothing(t *testing.T) {
	t.Parallel()
	m := dsCity()
	rules := []iam.DataRule{{Role: "case-reader", Permission: "social.case.read", Rule: "owner = subject.id"}}
	a, sc := newScoped(t, m, iam.DataScopes{Rules: rules})
	ctx := context.Background()
	f, err := a.Filter(ctx, "user:cal", "social.case.read", sc)
	if err != nil || !strings.Contains(f.String(), "owner = ") {
		t.Fatalf("before: %v, %v", f, err)
	}
	// case-reader loses the permission; caseworker (which inherits it)
	// gets it directly.
	if _, err := iam.AdminOf(a).Apply(ctx, rbac.Change{PutRoles: []rbac.Role{
		{ID: "case-reader", Permissions: []rbac.Permission{"social.case.list"}},
		{ID: "caseworker", Inherits: []rbac.RoleID{"case-reader"}, Permissions: []rbac.Permission{"social.case.update", "social.case.read"}},
	}}); err != nil {
		t.Fatal(err)
	}
	f, err = a.Filter(ctx, "user:cal", "social.case.read", sc)
	if err != nil || !f.MatchesNone() {
		t.Errorf("after the role lost the permission: %v, %v; want none", f, err)
	}
	d, err := a.CheckRecord(ctx, "user:cal", "social.case.read", sc, abac.Map{"department": "social", "owner": "user:cal"})
	if err != nil || d.Allowed {
		t.Errorf("CheckRecord after: %+v, %v", d, err)
	}
}

// TestFilterNoColumn checks that a table without a field for a kind of
// scope gets no condition on it: grants and denies at that kind reach no
// record, and the SQL renders without the column.
func TestFilterNoColumn(t *testing.T) {
	t.Parallel()
	m := dsCity()
	m.Roles = append(m.Roles, rbac.Role{ID: "no-shelter", Deny: []rbac.Permission{"social.case.read"}})
	m.Grants = append(m.Grants, rbac.Grant{Subject: "user:olga", Role: "no-shelter", Scope: "facility:shelter"})
	a, sc := newScoped(t, m, iam.DataScopes{Fields: iam.ScopeFields{Facility: iam.NoColumn}})
	cols := map[string]string{"department": "dept", "ward": "ward"} // no facility column
	ctx := context.Background()
	for sub, want := range map[iam.Subject]string{
		"user:fay":  "none",                  // facility grant
		"user:dan":  "department = 'social'", // shelter records cannot be told apart by facility
		"user:olga": "all",                   // a facility deny reaches no field of these records
		"user:wes":  "(ward = '7') or (ward = '3')",
	} {
		f, err := a.Filter(ctx, sub, "social.case.read", sc)
		if err != nil || f.String() != want {
			t.Errorf("%s: %v, %v; want %s", sub, f, err, want)
			continue
		}
		if _, _, err := f.SQL(abac.Postgres, cols); err != nil {
			t.Errorf("%s: SQL: %v", sub, err)
		}
	}
	if d, err := a.CheckRecord(ctx, "user:fay", "social.case.read", sc, abac.Map{"facility": "shelter"}); err != nil || d.Allowed {
		t.Errorf("CheckRecord: %+v, %v", d, err)
	}
	if got := sc.Fields(); !slices.Equal(got, []string{"department", "ward"}) {
		t.Errorf("Fields = %v", got)
	}
}

// TestSubjectIDIsTheWholeSubject checks that subject.id compares kind and
// id: the service account svc:cal is not the user user:cal.
func TestSubjectIDIsTheWholeSubject(t *testing.T) {
	t.Parallel()
	m := dsCity()
	m.Grants = append(m.Grants, rbac.Grant{Subject: "svc:cal", Role: "caseworker", Scope: "dept:social"})
	a, sc := newScoped(t, m, iam.DataScopes{Rules: dsRules})
	ctx := context.Background()
	for _, tt := range []struct {
		sub   iam.Subject
		owner string
		want  bool
	}{
		{"user:cal", "user:cal", true},
		{"svc:cal", "user:cal", false},
		{"svc:cal", "svc:cal", true},
		{"user:cal", "svc:cal", false},
		{"user:cal", "cal", false},
		{"svc:cal", "cal", false},
	} {
		rec := abac.Map{"department": "social", "owner": tt.owner}
		f, err := a.Filter(ctx, tt.sub, "social.case.read", sc)
		if err != nil {
			t.Fatal(err)
		}
		d, err := a.CheckRecord(ctx, tt.sub, "social.case.read", sc, rec)
		if err != nil || d.Allowed != tt.want || f.Match(rec) != tt.want {
			t.Errorf("%s on owner %q: CheckRecord %+v %v, Filter %v admits %v; want %v", tt.sub, tt.owner, d, err, f, f.Match(rec), tt.want)
		}
	}
}

// TestEmergencyAuditOfRecords checks that Filter and CheckRecord emit
// decision.emergency exactly when an emergency grant makes records
// possible, including a role that is an emergency role through what it
// inherits.
func TestEmergencyAuditOfRecords(t *testing.T) {
	t.Parallel()
	m := dsCity()
	m.Roles = append(m.Roles, rbac.Role{ID: "flood-response", Emergency: true, Inherits: []rbac.RoleID{"case-reader"}},
		rbac.Role{ID: "eoc-lead", Inherits: []rbac.RoleID{"flood-response"}}) // an emergency role through what it inherits
	window := func(g rbac.Grant) rbac.Grant {
		g.NotBefore, g.NotAfter, g.Reason = dsNoon.Add(-time.Hour), dsNoon.Add(time.Hour), "flood"
		return g
	}
	m.Grants = append(m.Grants,
		window(rbac.Grant{Subject: "user:eoc", Role: "flood-response", Scope: "ward:7"}),
		rbac.Grant{Subject: "user:eoc", Role: "case-reader", Scope: "dept:roads"},
		window(rbac.Grant{Subject: "user:hid", Role: "flood-response", Scope: "ward:7"}),
		rbac.Grant{Subject: "user:hid", Role: "no-read", Scope: "ward:7"},
		window(rbac.Grant{Subject: "user:lead", Role: "eoc-lead", Scope: "ward:3"}),
	)
	rec := &iamtest.Recorder{}
	a, sc := newScoped(t, m, iam.DataScopes{}, iam.WithAuditSink(rec))
	ctx := context.Background()
	count := func() int {
		n := 0
		for _, e := range rec.Events() {
			if e.Type == iam.EventEmergency {
				n++
			}
		}
		return n
	}
	steps := []struct {
		name string
		do   func() error
		emit bool
	}{
		{"filter widened by the emergency grant", func() error { _, err := a.Filter(ctx, "user:eoc", "social.case.read", sc); return err }, true},
		{"record only the ordinary grant admits", func() error {
			_, err := a.CheckRecord(ctx, "user:eoc", "social.case.read", sc, abac.Map{"department": "roads"})
			return err
		}, false},
		{"record the emergency grant admits", func() error {
			_, err := a.CheckRecord(ctx, "user:eoc", "social.case.read", sc, abac.Map{"ward": "7"})
			return err
		}, true},
		{"record under a role that inherits an emergency role", func() error {
			_, err := a.CheckRecord(ctx, "user:lead", "social.case.read", sc, abac.Map{"ward": "3"})
			return err
		}, true},
		{"filter under a role that inherits an emergency role", func() error { _, err := a.Filter(ctx, "user:lead", "social.case.read", sc); return err }, true},
		{"ordinary filter", func() error { _, err := a.Filter(ctx, "user:dan", "social.case.read", sc); return err }, false},
		{"emergency grant entirely denied", func() error { _, err := a.Filter(ctx, "user:hid", "social.case.read", sc); return err }, false},
	}
	for _, st := range steps {
		before := count()
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := count() > before; got != st.emit {
			t.Errorf("%s: emitted %v, want %v", st.name, got, st.emit)
		}
	}
}
