package iamtest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

var _ iam.EventWriter = (*iamtest.Store)(nil)
var _ iam.PolicyWriter = (*iamtest.Store)(nil)
var _ iam.RevisionSource = (*iamtest.Store)(nil)

func grantEvents(ids ...string) func(int64) []iam.Event {
	return func(rev int64) []iam.Event {
		var out []iam.Event
		for _, id := range ids {
			out = append(out, iam.Event{ID: id, Type: iam.EventRoleAssigned, Revision: rev})
		}
		return out
	}
}

func TestStoreOutboxIsAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := iamtest.NewStore(clerkModel)
	bob := rbac.Change{Grant: []rbac.Grant{{Subject: "user:bob", Role: "permit-clerk", Scope: "org"}}}
	rev, err := s.ApplyWithEvents(ctx, bob, grantEvents("e1"))
	if err != nil || rev != 2 || s.Pending() != 1 {
		t.Fatalf("ApplyWithEvents = %d, %v; pending %d", rev, err, s.Pending())
	}
	if got, err := s.Revision(ctx); got != 2 || err != nil {
		t.Fatalf("Revision = %d, %v; want 2", got, err)
	}

	carol := rbac.Change{Grant: []rbac.Grant{{Subject: "user:carol", Role: "permit-clerk", Scope: "org"}}}
	called := false
	tests := []struct {
		name   string
		c      rbac.Change
		events func(int64) []iam.Event
		want   error
	}{
		{"event id already in the outbox", carol, grantEvents("e1"), rbac.ErrInvalidInput},
		{"event id twice in one change", carol, grantEvents("e2", "e2"), rbac.ErrInvalidInput},
		{"event without an id", carol, grantEvents(""), rbac.ErrInvalidInput},
		{"refused change", rbac.Change{Grant: []rbac.Grant{{Subject: "user:carol", Role: "ghost", Scope: "org"}}},
			func(int64) []iam.Event { called = true; return nil }, nil},
		{"empty change", rbac.Change{}, func(int64) []iam.Event { called = true; return nil }, rbac.ErrInvalidInput},
	}
	for _, tt := range tests {
		_, err := s.ApplyWithEvents(ctx, tt.c, tt.events)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: %v, want an error (%v)", tt.name, err, tt.want)
		}
		if _, rev, _ := s.LoadPolicy(ctx); rev != 2 {
			t.Errorf("%s: revision %d after a refused change, want 2", tt.name, rev)
		}
		if s.Pending() != 1 {
			t.Errorf("%s: %d events pending, want 1", tt.name, s.Pending())
		}
	}
	if called {
		t.Error("events was called for a refused change")
	}
	m, _, _ := s.LoadPolicy(ctx)
	for _, g := range m.Grants {
		if g.Subject == "user:carol" {
			t.Error("a refused change left carol's grant")
		}
	}
}

// failingSink refuses events whose id it is told to.
type failingSink struct {
	iamtest.Recorder
	mu     sync.Mutex
	refuse string
}

func (f *failingSink) Record(ctx context.Context, e iam.Event) error {
	f.mu.Lock()
	refuse := f.refuse
	f.mu.Unlock()
	if e.ID == refuse {
		return errors.New("sink down")
	}
	return f.Recorder.Record(ctx, e)
}

func TestStoreRelayKeepsOrderAcrossFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := iamtest.NewStore(clerkModel)
	for i, sub := range []rbac.Subject{"user:b1", "user:b2", "user:b3"} {
		c := rbac.Change{Grant: []rbac.Grant{{Subject: sub, Role: "permit-clerk", Scope: "org"}}}
		if _, err := s.ApplyWithEvents(ctx, c, grantEvents(fmt.Sprintf("e%d", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	sink := &failingSink{refuse: "e2"}
	n, err := s.Relay(ctx, sink)
	if n != 1 || err == nil || s.Pending() != 2 {
		t.Fatalf("Relay with e2 refused = %d, %v; pending %d; want 1 delivered, an error, 2 pending", n, err, s.Pending())
	}
	sink.mu.Lock()
	sink.refuse = ""
	sink.mu.Unlock()
	if n, err := s.Relay(ctx, sink); n != 2 || err != nil || s.Pending() != 0 {
		t.Fatalf("second Relay = %d, %v; pending %d", n, err, s.Pending())
	}
	var got []string
	for _, e := range sink.Events() {
		got = append(got, fmt.Sprintf("%s@%d", e.ID, e.Revision))
	}
	if fmt.Sprint(got) != "[e1@2 e2@3 e3@4]" {
		t.Errorf("delivered %v, want e1@2 e2@3 e3@4 in order", got)
	}
	if n, err := s.Relay(ctx, sink); n != 0 || err != nil {
		t.Errorf("Relay with nothing pending = %d, %v", n, err)
	}
	if _, err := s.Relay(ctx, nil); err == nil {
		t.Error("Relay to a nil sink succeeded")
	}
}

// TestStoreAutoRelayOrderUnderConcurrency: with writers in parallel, the
// sink receives events in revision order, each once.
func TestStoreAutoRelayOrderUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := iamtest.NewStore(clerkModel)
	var rec iamtest.Recorder
	s.AutoRelay(&rec)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := rbac.Change{Grant: []rbac.Grant{{Subject: rbac.Subject(fmt.Sprintf("user:u%d", i)), Role: "permit-clerk", Scope: "org"}}}
			if _, err := s.ApplyWithEvents(ctx, c, grantEvents(fmt.Sprintf("id%d", i))); err != nil {
				t.Errorf("ApplyWithEvents: %v", err)
			}
		}()
	}
	wg.Wait()
	es := rec.Events()
	if len(es) != 40 || s.Pending() != 0 {
		t.Fatalf("delivered %d events, pending %d; want 40 and 0", len(es), s.Pending())
	}
	for i, e := range es {
		if e.Revision != int64(i+2) {
			t.Fatalf("event %d has revision %d, want %d: delivery out of order", i, e.Revision, i+2)
		}
	}
}
