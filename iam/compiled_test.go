package iam_test

import (
	"context"
	"sync"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

// compiledSource is an iam.CompiledSource that records what it was asked.
type compiledSource struct {
	mu      sync.Mutex
	m       rbac.Model
	p       *rbac.Policy
	rev     int64
	afters  []int64
	loads   int // LoadPolicy calls
	handout int // policies handed over
}

func (s *compiledSource) LoadPolicy(context.Context) (rbac.Model, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	return s.m, s.rev, nil
}

func (s *compiledSource) LoadCompiled(_ context.Context, after int64) (rbac.Model, *rbac.Policy, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afters = append(s.afters, after)
	if s.rev <= after {
		return rbac.Model{}, nil, s.rev, nil
	}
	if s.p != nil {
		s.handout++
	}
	return s.m, s.p, s.rev, nil
}

func (s *compiledSource) set(m rbac.Model, p *rbac.Policy, rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m, s.p, s.rev = m, p, rev
}

// TestCompiledSourceIsUsed checks that the Authorizer takes the compiled
// policy a CompiledSource hands over, asks only for revisions above its
// own, compiles the model itself when the source hands over none, and still
// refuses a source that went back in time.
func TestCompiledSourceIsUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := city()
	p, err := rbac.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	src := &compiledSource{m: m, p: p, rev: 3}
	a, err := iam.New(ctx, src, iam.WithClock(iamtest.Clock(noon)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Require(ctx, "user:alice", "permits.application.create", "ward:7"); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(ctx); err != nil { // nothing new
		t.Fatal(err)
	}
	// A new revision without a compiled policy: the Authorizer compiles.
	revoked := city()
	revoked.Grants = revoked.Grants[1:] // drops user:alice's grant
	src.set(revoked, nil, 4)
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := a.Check(ctx, "user:alice", "permits.application.create", "ward:7"); err != nil || d.Allowed || d.Revision != 4 {
		t.Fatalf("after the revoke: %+v, %v; want a deny at revision 4", d, err)
	}
	src.set(m, p, 2) // restored from an old backup
	if err := a.Reload(ctx); err == nil {
		t.Fatal("Reload accepted a store behind the snapshot")
	}
	if got := a.Revision(); got != 4 {
		t.Fatalf("revision %d after a refused reload, want 4", got)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	want := []int64{-1, 3, 3, 4}
	if len(src.afters) != len(want) {
		t.Fatalf("LoadCompiled called with %v, want %v", src.afters, want)
	}
	for i := range want {
		if src.afters[i] != want[i] {
			t.Fatalf("LoadCompiled called with %v, want %v", src.afters, want)
		}
	}
	if src.loads != 0 || src.handout != 1 {
		t.Errorf("LoadPolicy called %d times, %d policies handed over; want 0 and 1", src.loads, src.handout)
	}
}
