package sso_test

import (
	"context"
	"sync"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
)

// recorder collects events.
type recorder struct {
	mu sync.Mutex
	ev []sso.Event
}

func (r *recorder) Record(_ context.Context, e sso.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ev = append(r.ev, e)
	return nil
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.ev {
		out = append(out, e.Type)
	}
	return out
}

// of returns the events of type typ.
func (r *recorder) of(typ string) []sso.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sso.Event
	for _, e := range r.ev {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) count(typ string) int {
	n := 0
	for _, t := range r.types() {
		if t == typ {
			n++
		}
	}
	return n
}

// counting wraps a session manager to count sessions created.
type counting struct {
	m  *session.Manager
	n  int
	mu sync.Mutex
}

func (c *counting) Create(ctx context.Context, st session.Start) (session.Session, string, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.m.Create(ctx, st)
}

type fixture struct {
	users    *signin.MemStore
	links    *sso.MemLinks
	sessions *counting
	mgr      *session.Manager
	authz    *iam.Authorizer
	events   *recorder
	svc      *sso.Service
	read     sso.GrantReader
	admin    sso.Assigner
}

// policy has the bylaw-officer role, a conflicting ticket-void role and
// the departments.
func policy() rbac.Model {
	return rbac.Model{
		Roles: []rbac.Role{
			{ID: "bylaw-officer", Permissions: []rbac.Permission{"bylaw.ticket.create"}},
			{ID: "ticket-voider", Permissions: []rbac.Permission{"bylaw.ticket.void"}},
			{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}},
		},
		Scopes:    []rbac.ScopeNode{{Scope: "dept:bylaw", Parent: "org"}, {Scope: "dept:building", Parent: "org"}},
		Conflicts: []rbac.ConflictRule{{ID: "issue-void", Roles: [2]rbac.RoleID{"bylaw-officer", "ticket-voider"}}},
	}
}

func newFixture(t testing.TB, providers ...sso.Provider) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{users: signin.NewMemStore(), links: sso.NewMemLinks(), events: &recorder{}}
	key, err := session.GenerateKey(session.EdDSA, "k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := session.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	f.mgr, err = session.New(session.NewMemoryStore(), ring)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.mgr.Close() })
	f.sessions = &counting{m: f.mgr}
	store := iamtest.NewStore(policy())
	f.read = ModelGrants(store)
	f.authz, err = iam.New(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.authz.Close() })
	f.admin = iam.NewAdmin(f.authz, store)
	f.svc, err = sso.New(f.users, f.links, f.sessions, providers,
		sso.WithAssigner(f.admin), sso.WithEvents(f.events), sso.WithGrantReader(f.read))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// ModelGrants reads a subject's direct grants and groups from a policy
// source.
func ModelGrants(src interface {
	LoadPolicy(context.Context) (rbac.Model, int64, error)
}) sso.GrantReader {
	return func(ctx context.Context, sub rbac.Subject) ([]rbac.GrantKey, []rbac.Subject, error) {
		m, _, err := src.LoadPolicy(ctx)
		if err != nil {
			return nil, nil, err
		}
		var gs []rbac.GrantKey
		var groups []rbac.Subject
		for _, g := range m.Grants {
			if g.Subject == sub {
				gs = append(gs, g.Key())
			}
		}
		for _, ms := range m.Members {
			if ms.Member == sub {
				groups = append(groups, ms.Group)
			}
		}
		return gs, groups, nil
	}
}

func (f *fixture) grants(t testing.TB, sub rbac.Subject) []rbac.GrantKey {
	t.Helper()
	gs, _, err := f.read(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	return gs
}
