package onboard_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
	"github.com/civic-platform/security/session/onboard"
	"github.com/civic-platform/security/session/signin"
)

func mustTemplates(t testing.TB) *templates.Set {
	t.Helper()
	set, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestJoiner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	res, err := h.svc.Onboard(ctx, bylawOfficer())
	if err != nil {
		t.Fatalf("Onboard: %v", err)
	}
	if res.Kind != onboard.Joiner || res.User.ID != "e1042" || res.User.Email != "julie.tremblay@lakeview.ca" ||
		res.User.Status != signin.StatusActive || res.User.Department != "bylaw" || res.User.Language != "fr" {
		t.Fatalf("result = %+v", res)
	}
	gs := h.grantsOf(t, "user:e1042")
	if len(gs) != 1 || gs[0].Role != "bylaw-officer" || gs[0].Scope != "dept:bylaw" ||
		!gs[0].NotBefore.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || !strings.HasPrefix(gs[0].Reason, "hr:E1042 ") {
		t.Fatalf("grants = %+v", gs)
	}
	// The role came from the template in the same change.
	if !slices.ContainsFunc(h.model(t).Roles, func(r rbac.Role) bool { return r.ID == "bylaw-officer" }) {
		t.Fatal("bylaw-officer role not created from its template")
	}
	// Not in force before the start date; in force from it.
	d, err := h.authz.Check(ctx, "user:e1042", "bylaw.case.read", "dept:bylaw")
	if err != nil || d.Allowed {
		t.Fatalf("before start: %+v %v", d, err)
	}
	h.setNow(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	if d, err := h.authz.Check(ctx, "user:e1042", "bylaw.case.read", "dept:bylaw"); err != nil || !d.Allowed {
		t.Fatalf("after start: %+v %v", d, err)
	}
	msgs := h.mail.sent()
	if len(msgs) != 1 || msgs[0].Language != "fr" || !strings.Contains(msgs[0].Subject, "Bienvenue") ||
		!strings.Contains(msgs[0].Text, "https://login.lakeview.ca/") || !strings.Contains(msgs[0].Text, "1 décembre 2026") ||
		msgs[0].To.Email != "julie.tremblay@lakeview.ca" {
		t.Fatalf("welcome = %+v", msgs)
	}
	if ev := h.events.of(onboard.EventUserProvisioned); len(ev) != 1 || ev[0].Subject != "user:e1042" || ev[0].Detail["manager"] != "E0007" {
		t.Fatalf("provisioned events = %+v", ev)
	}
	if len(h.events.of("role.assigned")) != 1 {
		t.Fatalf("events = %v", h.events.types())
	}
}

func TestSameRecordTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	rec := bylawOfficer()
	if _, err := h.svc.Onboard(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rev := h.authz.Revision()
	nEvents := len(h.events.types())
	for _, r := range []onboard.Record{rec, {EmployeeID: " E1042 ", GivenName: "Julie ", FamilyName: "Tremblay", Email: "JULIE.TREMBLAY@lakeview.ca",
		Position: "bylaw  officer", Department: "bylaw", Manager: "E0007", StartDate: rec.StartDate, Language: "FR"}} {
		res, err := h.svc.Onboard(ctx, r)
		if err != nil || res.Kind != onboard.Unchanged {
			t.Fatalf("second Onboard = %+v, %v", res.Kind, err)
		}
	}
	// After the start date the same record still changes nothing.
	h.setNow(time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC))
	if res, err := h.svc.Onboard(ctx, rec); err != nil || res.Kind != onboard.Unchanged {
		t.Fatalf("after start = %+v, %v", res.Kind, err)
	}
	if h.authz.Revision() != rev || len(h.events.types()) != nEvents || len(h.mail.sent()) != 1 {
		t.Fatalf("a repeated record changed something: revision %d -> %d, events %v", rev, h.authz.Revision(), h.events.types())
	}
}

func TestMover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	rec := bylawOfficer()
	if _, err := h.svc.Onboard(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// A grant someone else made is not the position's and stays.
	if _, err := h.admin.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:e1042", Role: "purchasing-agent", Scope: "dept:bylaw", Reason: "acting buyer"}}}); err != nil {
		t.Fatal(err)
	}
	h.setNow(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC))
	before := h.authz.Revision()
	rec.Department = "parks"
	res, err := h.svc.Onboard(ctx, rec)
	if err != nil {
		t.Fatalf("move department: %v", err)
	}
	if res.Kind != onboard.Mover || len(res.Revoked) != 1 || len(res.Assigned) != 1 || res.Revision != before+1 {
		t.Fatalf("result = %+v (revision before %d)", res, before)
	}
	var got []string
	for _, g := range h.grantsOf(t, "user:e1042") {
		got = append(got, string(g.Role)+"@"+string(g.Scope))
	}
	slices.Sort(got)
	if want := []string{"bylaw-officer@dept:parks", "purchasing-agent@dept:bylaw"}; !slices.Equal(got, want) {
		t.Fatalf("grants after move = %v, want %v", got, want)
	}
	if u, _ := h.users.User(ctx, "e1042"); u.Department != "parks" {
		t.Fatalf("user department = %q", u.Department)
	}
	mv := h.events.of(onboard.EventUserMoved)
	if len(mv) != 1 || mv[0].Detail["from_department"] != "bylaw" || mv[0].Revision != res.Revision {
		t.Fatalf("moved events = %+v", mv)
	}
	// A change of position replaces the role, again in one change.
	rec.Position = "Planner"
	res, err = h.svc.Onboard(ctx, rec)
	if err != nil || res.Kind != onboard.Mover || res.Revoked[0].Role != "bylaw-officer" || res.Assigned[0].Role != "planner" {
		t.Fatalf("move position = %+v, %v", res, err)
	}
	if len(h.mail.sent()) != 1 {
		t.Fatal("a mover got a welcome message")
	}
}

func TestMoverRefusedBySoD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	rec := onboard.Record{EmployeeID: "E2001", GivenName: "Sam", FamilyName: "Okafor", Email: "sam.okafor@lakeview.ca",
		Position: "Purchasing Agent", Department: "finance"}
	if _, err := h.svc.Onboard(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// The person also holds purchasing-agent through a manual grant, so
	// becoming Finance Director would give them both sides of the rule.
	if _, err := h.admin.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:e2001", Role: "purchasing-agent", Scope: "dept:parks", Reason: "secondment"}}}); err != nil {
		t.Fatal(err)
	}
	rev := h.authz.Revision()
	rec.Position = "Finance Director"
	_, err := h.svc.Onboard(ctx, rec)
	var ce *rbac.ConflictError
	if !errors.Is(err, onboard.ErrConflict) || !errors.As(err, &ce) || ce.Rule != "po-create-approve" {
		t.Fatalf("err = %v, want a conflict naming po-create-approve", err)
	}
	if h.authz.Revision() != rev {
		t.Fatal("a refused move changed the policy")
	}
}

func TestJoinerRefusedBySoDCreatesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := cityModel()
	// A group the new employee already belongs to holds purchasing-agent.
	m.Members = []rbac.Membership{{Member: "user:e3001", Group: "group:buyers"}}
	m.Grants = []rbac.Grant{{Subject: "group:buyers", Role: "purchasing-agent", Scope: "org"}}
	h := newHarness(t, m)
	rev := h.authz.Revision()
	_, err := h.svc.Onboard(ctx, onboard.Record{EmployeeID: "E3001", GivenName: "Ana", FamilyName: "Lima", Email: "ana.lima@lakeview.ca",
		Position: "Directeur des finances", Department: "finance"})
	if !errors.Is(err, onboard.ErrConflict) || !strings.Contains(err.Error(), "po-create-approve") {
		t.Fatalf("err = %v", err)
	}
	if _, err := h.users.User(ctx, "e3001"); !errors.Is(err, signin.ErrNotFound) {
		t.Fatalf("user created despite the refusal: %v", err)
	}
	if h.authz.Revision() != rev || len(h.mail.sent()) != 0 {
		t.Fatal("a refused joiner changed the policy or sent mail")
	}
}

func TestBadRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	if _, err := h.svc.Onboard(ctx, bylawOfficer()); err != nil {
		t.Fatal(err)
	}
	rev := h.authz.Revision()
	mod := func(f func(*onboard.Record)) onboard.Record {
		r := onboard.Record{EmployeeID: "E5000", GivenName: "Lee", FamilyName: "Roy", Email: "lee.roy@lakeview.ca", Position: "Planner", Department: "parks"}
		f(&r)
		return r
	}
	tests := []struct {
		name string
		rec  onboard.Record
		want error
		text string
	}{
		{"unknown position", mod(func(r *onboard.Record) { r.Position = "Chief Happiness Officer" }), onboard.ErrUnknownPosition, `"Chief Happiness Officer"`},
		{"look-alike position", mod(func(r *onboard.Record) { r.Position = "Plаnner" }), onboard.ErrUnknownPosition, "Pl"},
		{"emergency template", mod(func(r *onboard.Record) { r.Position = "emergency-operations" }), onboard.ErrUnknownPosition, ""},
		{"unknown department", mod(func(r *onboard.Record) { r.Department = "roads" }), onboard.ErrUnknownDepartment, `"roads"`},
		{"department with separator", mod(func(r *onboard.Record) { r.Department = "parks:ward:7" }), onboard.ErrInvalidInput, "department"},
		{"department SQL", mod(func(r *onboard.Record) { r.Department = "parks'; DROP TABLE casbin_rule;--" }), onboard.ErrInvalidInput, "department"},
		{"duplicate employee id, other email", mod(func(r *onboard.Record) { r.EmployeeID = "E1042"; r.Email = "someone.else@lakeview.ca" }), onboard.ErrIdentityConflict, "E1042"},
		{"email of another employee", mod(func(r *onboard.Record) { r.Email = "julie.tremblay@lakeview.ca" }), onboard.ErrIdentityConflict, "E1042"},
		{"employee id differing in case", mod(func(r *onboard.Record) { r.EmployeeID = "e1042"; r.Email = "julie.tremblay@lakeview.ca" }), onboard.ErrIdentityConflict, ""},
		{"CR LF in given name", mod(func(r *onboard.Record) { r.GivenName = "Lee\r\nBcc: everyone@lakeview.ca" }), onboard.ErrInvalidInput, "given name"},
		{"LF in family name", mod(func(r *onboard.Record) { r.FamilyName = "Roy\nX-Evil: 1" }), onboard.ErrInvalidInput, "family name"},
		{"line separator in name", mod(func(r *onboard.Record) { r.GivenName = "Lee\u2028Bcc" }), onboard.ErrInvalidInput, "given name"},
		{"bidi override in name", mod(func(r *onboard.Record) { r.FamilyName = "Roy\u202egnp.exe" }), onboard.ErrInvalidInput, "family name"},
		{"angle brackets in name", mod(func(r *onboard.Record) { r.GivenName = "Lee <evil@x.org>" }), onboard.ErrInvalidInput, "given name"},
		{"CR LF in email", mod(func(r *onboard.Record) { r.Email = "lee.roy@lakeview.ca\r\nBcc: x@y.z" }), onboard.ErrInvalidInput, "email"},
		{"two addresses", mod(func(r *onboard.Record) { r.Email = "lee.roy@lakeview.ca, x@y.z" }), onboard.ErrInvalidInput, "email"},
		{"named address", mod(func(r *onboard.Record) { r.Email = "Lee <lee.roy@lakeview.ca>" }), onboard.ErrInvalidInput, "email"},
		{"empty email", mod(func(r *onboard.Record) { r.Email = "" }), onboard.ErrInvalidInput, "email"},
		{"empty employee id", mod(func(r *onboard.Record) { r.EmployeeID = "" }), onboard.ErrInvalidInput, "employee id"},
		{"employee id SQL", mod(func(r *onboard.Record) { r.EmployeeID = "1' OR '1'='1" }), onboard.ErrInvalidInput, "employee id"},
		{"oversized name", mod(func(r *onboard.Record) { r.GivenName = strings.Repeat("a", 101) }), onboard.ErrInvalidInput, "given name"},
		{"oversized position", mod(func(r *onboard.Record) { r.Position = strings.Repeat("p", 10000) }), onboard.ErrInvalidInput, "position"},
		{"NUL in position", mod(func(r *onboard.Record) { r.Position = "Planner\x00" }), onboard.ErrInvalidInput, "position"},
		{"not UTF-8", mod(func(r *onboard.Record) { r.FamilyName = "R\xffy" }), onboard.ErrInvalidInput, "family name"},
		{"language", mod(func(r *onboard.Record) { r.Language = "de" }), onboard.ErrInvalidInput, "language"},
		{"own manager", mod(func(r *onboard.Record) { r.Manager = "E5000" }), onboard.ErrInvalidInput, "manager"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.svc.Onboard(ctx, tt.rec)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.want, tt.text)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error repeats hostile text: %q", err)
			}
		})
	}
	if h.authz.Revision() != rev || len(h.mail.sent()) != 1 {
		t.Fatal("a refused record changed something")
	}
	if _, err := h.users.User(ctx, "e5000"); !errors.Is(err, signin.ErrNotFound) {
		t.Fatalf("a refused record created a user: %v", err)
	}
}

func TestWelcomeFailureKeepsTheAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	h.mail.fail = errors.New("smtp: 451 try later")
	res, err := h.svc.Onboard(ctx, bylawOfficer())
	if !errors.Is(err, onboard.ErrMail) || res.Kind != onboard.Joiner || res.User.Status != signin.StatusActive {
		t.Fatalf("Onboard = %+v, %v", res, err)
	}
	if len(h.events.of(onboard.EventWelcomeFailed)) != 1 {
		t.Fatalf("events = %v", h.events.types())
	}
}

func TestEnglishWelcomeAndNow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	rec := bylawOfficer()
	rec.Language, rec.StartDate = "", time.Time{}
	res, err := h.svc.Onboard(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Welcome == nil || res.Welcome.Language != "en" || !strings.Contains(res.Welcome.Subject, "Welcome to City of Lakeview") {
		t.Fatalf("welcome = %+v", res.Welcome)
	}
	if d, err := h.authz.Check(ctx, "user:e1042", "bylaw.case.read", "dept:bylaw"); err != nil || !d.Allowed {
		t.Fatalf("no start date should grant at once: %+v %v", d, err)
	}
}

func TestPositions(t *testing.T) {
	t.Parallel()
	p, err := onboard.DefaultPositions()
	if err != nil {
		t.Fatal(err)
	}
	for title, want := range map[string]rbac.RoleID{
		"Bylaw Officer": "bylaw-officer", "Agent d'application des règlements municipaux": "bylaw-officer",
		"agente d'application des règlements municipaux": "bylaw-officer", "Chief Building Official": "cbo",
		"Chef du service du bâtiment": "cbo", "Trésorière": "treasurer", "TRESORIERE": "treasurer", "Urbaniste": "planner", "  FIRE   chief ": "fire-chief",
		"Directeur général": "cao", "Greffier municipal": "clerk", "IT Administrator": "it-admin", "Administrateur des TI": "it-admin",
	} {
		if got, ok := p.Roles(title); !ok || len(got) != 1 || got[0] != want {
			t.Errorf("Roles(%q) = %v %v, want %s", title, got, ok, want)
		}
	}
	for _, title := range []string{"Emergency Operations", "Opérations d'urgence", "Tresoriere-adjointe", "", "Planner\n"} {
		if _, ok := p.Roles(title); ok {
			t.Errorf("Roles(%q) matched", title)
		}
	}
	if _, err := onboard.NewPositions(map[string][]rbac.RoleID{"Clerk": {"clerk"}, "CLERK": {"planner"}}); !errors.Is(err, onboard.ErrInvalidInput) {
		t.Errorf("duplicate titles: %v", err)
	}
	if _, err := onboard.NewPositions(map[string][]rbac.RoleID{"Clerk": {"Bad Role"}}); !errors.Is(err, onboard.ErrInvalidInput) {
		t.Errorf("bad role id: %v", err)
	}
	// A city's own mapping.
	own, err := onboard.NewPositions(map[string][]rbac.RoleID{"Parking Enforcement": {"bylaw-officer"}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cityModel(), onboard.WithPositions(own))
	rec := bylawOfficer()
	if _, err := h.svc.Onboard(context.Background(), rec); !errors.Is(err, onboard.ErrUnknownPosition) {
		t.Fatalf("default title with a city mapping: %v", err)
	}
	rec.Position = "parking enforcement"
	if _, err := h.svc.Onboard(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

func TestRehire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	rec := bylawOfficer()
	if _, err := h.svc.Onboard(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Offboard(ctx, "E1042", "left"); err != nil {
		t.Fatal(err)
	}
	res, err := h.svc.Onboard(ctx, rec)
	if err != nil || res.Kind != onboard.Joiner || res.User.Status != signin.StatusActive || len(h.grantsOf(t, "user:e1042")) != 1 {
		t.Fatalf("rehire = %+v, %v", res, err)
	}
}

func TestSuspendedStaysSuspended(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	rec := bylawOfficer()
	if _, err := h.svc.Onboard(ctx, rec); err != nil {
		t.Fatal(err)
	}
	u, _ := h.users.User(ctx, "e1042")
	u.Status = signin.StatusSuspended
	if err := h.users.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	rec.Department = "parks"
	res, err := h.svc.Onboard(ctx, rec)
	if err != nil || res.Kind != onboard.Mover || res.User.Status != signin.StatusSuspended {
		t.Fatalf("move of a suspended user = %+v, %v", res, err)
	}
}

// takenUsers refuses to create any user, as a store does whose email was
// taken between the plan and the write.
type takenUsers struct{ *signin.MemStore }

func (takenUsers) CreateUser(context.Context, signin.User) error { return signin.ErrExists }

func TestAccountRefusedAfterTheRolesUndoesThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	svc, err := onboard.New(takenUsers{h.users}, h.store, h.admin, onboard.WithClock(h.now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Onboard(ctx, bylawOfficer()); !errors.Is(err, onboard.ErrIdentityConflict) {
		t.Fatalf("err = %v", err)
	}
	if gs := h.grantsOf(t, "user:e1042"); len(gs) != 0 {
		t.Fatalf("grants left without an account: %v", gs)
	}
}
