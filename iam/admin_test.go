package iam_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

// outboxStore is a store with an outbox: ApplyWithEvents keeps the events
// it is handed, as a SQL store writes them in the change's transaction.
type outboxStore struct {
	*iamtest.Store
	mu     sync.Mutex
	outbox []iam.Event
}

func (s *outboxStore) ApplyWithEvents(ctx context.Context, c rbac.Change, events func(int64) []iam.Event) (int64, error) {
	rev, err := s.Store.Apply(ctx, c)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = append(s.outbox, events(rev)...)
	return rev, nil
}

func (s *outboxStore) outboxed() []iam.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]iam.Event(nil), s.outbox...)
}

// wrapper is what a service puts around its store (logging, metrics): it
// forwards reads and writes and knows nothing of outboxes.
type wrapper struct {
	iam.PolicySource
	w iam.PolicyWriter
}

func (w wrapper) Apply(ctx context.Context, c rbac.Change) (int64, error) { return w.w.Apply(ctx, c) }

var _ iam.EventWriter = (*outboxStore)(nil)

// Where change events go is stated by the constructor, whatever the
// writer's dynamic type: NewAdmin delivers to the sink after the write
// (even over a store that has an outbox, directly or wrapped);
// NewOutboxAdmin hands them to the store's outbox and never to the sink.
func TestAdminDeliveryIsStatedByConstruction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := iam.Grant{Subject: "user:bob", Role: "clerk", Scope: "dept:building"}
	for _, tc := range []struct {
		name   string
		admin  func(a *iam.Authorizer, st *outboxStore) *iam.Admin
		outbox bool
	}{
		{"NewAdmin over an outbox store", func(a *iam.Authorizer, st *outboxStore) *iam.Admin { return iam.NewAdmin(a, st) }, false},
		{"NewAdmin over a wrapper", func(a *iam.Authorizer, st *outboxStore) *iam.Admin { return iam.NewAdmin(a, wrapper{st, st}) }, false},
		{"NewOutboxAdmin", func(a *iam.Authorizer, st *outboxStore) *iam.Admin { return iam.NewOutboxAdmin(a, st) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := &outboxStore{Store: iamtest.NewStore(city())}
			rec := &iamtest.Recorder{}
			a, err := iam.New(ctx, wrapper{st, st}, iam.WithAuditSink(rec))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			ad := tc.admin(a, st)
			rev, err := ad.Assign(ctx, g)
			if err != nil {
				t.Fatalf("Assign: %v", err)
			}
			if d, _ := a.Check(ctx, "user:bob", "bylaw.case.read", "dept:building"); !d.Allowed || d.Revision != rev {
				t.Errorf("check after Assign = %+v; want allowed at revision %d", d, rev)
			}
			sunk, boxed := eventsOfType(rec.Events(), iam.EventRoleAssigned), eventsOfType(st.outboxed(), iam.EventRoleAssigned)
			want, other := sunk, boxed
			if tc.outbox {
				want, other = boxed, sunk
			}
			if len(want) != 1 || want[0].Subject != g.Subject || want[0].Revision != rev || want[0].ID == "" {
				t.Errorf("role.assigned where it belongs = %+v; want one for %s at revision %d", want, g.Subject, rev)
			}
			if len(other) != 0 {
				t.Errorf("role.assigned delivered twice: %+v", other)
			}
		})
	}
}

// NewOutboxAdmin takes an EventWriter, so a wrapper that does not write
// events cannot be passed to it: the choice of outbox is checked by the
// compiler, not discovered at run time.
func TestNewOutboxAdminRequiresAnEventWriter(t *testing.T) {
	t.Parallel()
	param := reflect.TypeOf(iam.NewOutboxAdmin).In(1)
	if param != reflect.TypeFor[iam.EventWriter]() {
		t.Fatalf("NewOutboxAdmin takes %v; want iam.EventWriter", param)
	}
	if reflect.TypeFor[wrapper]().Implements(param) {
		t.Fatal("a plain wrapper satisfies EventWriter")
	}
	if param = reflect.TypeOf(iam.NewAdmin).In(1); param != reflect.TypeFor[iam.PolicyWriter]() {
		t.Fatalf("NewAdmin takes %v; want iam.PolicyWriter", param)
	}
}

// An Admin without a writer refuses every write with ErrReadOnly, and one
// over a closed Authorizer with ErrClosed; neither writes anything.
func TestAdminRefusesWithoutWriterOrAfterClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := iamtest.NewStore(city())
	a, err := iam.New(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	g := iam.Grant{Subject: "user:bob", Role: "clerk", Scope: "dept:building"}
	for _, ad := range []*iam.Admin{iam.NewAdmin(a, nil), iam.NewOutboxAdmin(a, nil)} {
		if _, err := ad.Assign(ctx, g); !errors.Is(err, iam.ErrReadOnly) {
			t.Errorf("Assign without a writer: %v; want ErrReadOnly", err)
		}
		if _, err := ad.Revoke(ctx, g.Key(), "x"); !errors.Is(err, iam.ErrReadOnly) {
			t.Errorf("Revoke without a writer: %v; want ErrReadOnly", err)
		}
	}
	a.Close()
	if _, err := iam.NewAdmin(a, st).Assign(ctx, g); !errors.Is(err, iam.ErrClosed) {
		t.Errorf("Assign after Close: %v; want ErrClosed", err)
	}
	if _, err := iam.NewAdmin(nil, st).Assign(ctx, g); !errors.Is(err, iam.ErrClosed) {
		t.Errorf("Assign with no Authorizer: %v; want ErrClosed", err)
	}
	m, rev, _ := st.LoadPolicy(ctx)
	if rev != 1 || len(m.Grants) != len(city().Grants) {
		t.Errorf("store changed: revision %d, %d grants", rev, len(m.Grants))
	}
}

func eventsOfType(es []iam.Event, typ string) []iam.Event {
	var out []iam.Event
	for _, e := range es {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
