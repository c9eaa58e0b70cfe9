package onboard_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/onboard"
	"github.com/civic-platform/security/session/signin"
)

var noon = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// outbox captures sent messages.
type outbox struct {
	mu   sync.Mutex
	msgs []onboard.Message
	fail error
}

func (o *outbox) Send(_ context.Context, m onboard.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.msgs = append(o.msgs, m)
	return nil
}

func (o *outbox) sent() []onboard.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]onboard.Message(nil), o.msgs...)
}

// events captures events.
type events struct {
	mu  sync.Mutex
	all []iam.Event
}

func (e *events) Record(_ context.Context, ev iam.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
	return nil
}

func (e *events) types() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, len(e.all))
	for i, ev := range e.all {
		out[i] = ev.Type
	}
	return out
}

func (e *events) of(typ string) []iam.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []iam.Event
	for _, ev := range e.all {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

type harness struct {
	store    *memstore.Store
	authz    *iam.Authorizer
	admin    *iam.Admin
	users    *signin.MemStore
	svc      *onboard.Service
	mail     *outbox
	events   *events
	sessions *session.Manager
	clock    atomic.Int64
}

func (h *harness) now() time.Time     { return time.Unix(0, h.clock.Load()).UTC() }
func (h *harness) setNow(t time.Time) { h.clock.Store(t.UnixNano()) }

// cityModel declares three departments and the rule that no one both
// raises and approves purchase orders.
func cityModel() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:bylaw", Parent: "org"},
			{Scope: "dept:parks", Parent: "org"},
			{Scope: "dept:finance", Parent: "org"},
		},
		Conflicts: []rbac.ConflictRule{{ID: "po-create-approve", Description: "raise and approve purchase orders",
			Roles: [2]rbac.RoleID{"purchasing-agent", "finance-director"}}},
	}
}

func newHarness(t testing.TB, m rbac.Model, opts ...onboard.Option) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{mail: &outbox{}, events: &events{}, users: signin.NewMemStore()}
	h.setNow(noon)
	// Roles that conflict rules name must exist: take them from templates.
	st, err := memstore.New(withTemplateRoles(t, m))
	if err != nil {
		t.Fatal(err)
	}
	h.store = st
	clock := h.now
	h.authz, err = iam.New(ctx, st, iam.WithClock(clock), iam.WithAuditSink(h.events))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.authz.Close() })
	h.admin = iam.NewAdmin(h.authz, st)
	key, err := session.GenerateKey(session.EdDSA, "k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := session.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	h.sessions, err = session.New(session.NewMemoryStore(), ring, session.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.sessions.Close() })
	base := []onboard.Option{onboard.WithMailer(h.mail), onboard.WithSSO("https://login.lakeview.ca/"),
		onboard.WithEvents(h.events), onboard.WithClock(clock), onboard.WithLocation(time.UTC),
		onboard.WithOrganisation("City of Lakeview"), onboard.WithSessions(h.sessions)}
	h.svc, err = onboard.New(h.users, st, h.admin, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// withTemplateRoles adds the template roles the model's conflict rules
// name, so the model compiles.
func withTemplateRoles(t testing.TB, m rbac.Model) rbac.Model {
	t.Helper()
	if len(m.Conflicts) == 0 {
		return m
	}
	set := mustTemplates(t)
	for _, c := range m.Conflicts {
		for _, id := range c.Roles {
			r, err := set.Instantiate(id, id)
			if err != nil {
				t.Fatal(err)
			}
			m.Roles = append(m.Roles, r)
		}
	}
	m.Permissions = append(m.Permissions, set.Permissions()...)
	return m
}

func bylawOfficer() onboard.Record {
	return onboard.Record{EmployeeID: "E1042", GivenName: "Julie", FamilyName: "Tremblay", Email: "Julie.Tremblay@lakeview.ca",
		Position: "Bylaw Officer", Department: "bylaw", Manager: "E0007", StartDate: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Language: "fr"}
}

func (h *harness) model(t *testing.T) rbac.Model {
	t.Helper()
	m, _, err := h.store.LoadPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (h *harness) grantsOf(t *testing.T, sub rbac.Subject) []rbac.Grant {
	t.Helper()
	var out []rbac.Grant
	for _, g := range h.model(t).Grants {
		if g.Subject == sub {
			out = append(out, g)
		}
	}
	return out
}
