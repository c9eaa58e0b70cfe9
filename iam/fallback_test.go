package iam_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// memFallback is an iam.SnapshotStore in memory that records its calls.
type memFallback struct {
	mu        sync.Mutex
	m         rbac.Model
	rev       int64
	confirmed time.Time
	saves     []int64
	confirms  []time.Time
}

func (f *memFallback) SaveSnapshot(_ context.Context, m rbac.Model, rev int64, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m, f.rev, f.confirmed = m, rev, at
	f.saves = append(f.saves, rev)
	return nil
}

func (f *memFallback) ConfirmSnapshot(_ context.Context, rev int64, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirms = append(f.confirms, at)
	if rev == f.rev && at.After(f.confirmed) {
		f.confirmed = at
	}
	return nil
}

func (f *memFallback) LoadSnapshot(context.Context) (rbac.Model, int64, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.saves == nil {
		return rbac.Model{}, 0, time.Time{}, errors.New("nothing kept")
	}
	return f.m, f.rev, f.confirmed, nil
}

func (f *memFallback) calls() (saves []int64, confirms []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.saves...), append([]time.Time(nil), f.confirms...)
}

// TestFallbackKeepsCopyCurrent checks what the Authorizer writes to its
// fallback store: every new revision, and while nothing changes a
// confirmation at most once a minute.
func TestFallbackKeepsCopyCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock(noon)
	src := &flakySource{m: city(), rev: 1}
	fb := &memFallback{}
	a, err := iam.New(ctx, src, iam.WithClock(clk.now), iam.WithFallback(fb))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, 10*time.Second, func() bool { s, _ := fb.calls(); return len(s) == 1 && s[0] == 1 })

	clk.set(noon.Add(10 * time.Second)) // too soon to record a confirmation
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	clk.set(noon.Add(2 * time.Minute)) // due
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { _, c := fb.calls(); return len(c) > 0 })
	if _, c := fb.calls(); len(c) != 1 || !c[0].Equal(noon.Add(2*time.Minute)) {
		t.Fatalf("confirmations %v, want one at noon+2m", c)
	}

	src.set(city(), 2, nil)
	clk.set(noon.Add(3 * time.Minute))
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { s, _ := fb.calls(); return len(s) == 2 && s[1] == 2 })
	if _, c := fb.calls(); len(c) != 1 {
		t.Errorf("a save also queued a confirmation: %v", c)
	}
	if _, rev, at, _ := fb.LoadSnapshot(ctx); rev != 2 || !at.Equal(noon.Add(3*time.Minute)) {
		t.Errorf("kept copy at revision %d confirmed %v, want 2 at noon+3m", rev, at)
	}
}

// TestWithoutFallbackNewFails keeps the rule that an unreadable store at
// start is an error when no fallback is configured.
func TestWithoutFallbackNewFails(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	if _, err := iam.New(context.Background(), &flakySource{err: down}, iam.WithFallback(nil)); !errors.Is(err, down) {
		t.Fatalf("New with the store down and no fallback: %v", err)
	}
}
