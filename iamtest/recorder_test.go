package iamtest_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
)

func recordAll(t *testing.T, r *iamtest.Recorder, es ...iam.Event) {
	t.Helper()
	for _, e := range es {
		if err := r.Record(context.Background(), e); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
}

func TestRecorderFind(t *testing.T) {
	t.Parallel()
	var r iamtest.Recorder // the zero Recorder is ready
	recordAll(t, &r,
		iam.Event{ID: "1", Type: iam.EventRoleAssigned, Subject: "user:alice", Detail: map[string]string{"role": "clerk"}},
		iam.Event{ID: "2", Type: iam.EventRoleAssigned, Subject: "user:bob"},
		iam.Event{ID: "3", Type: iam.EventRoleRevoked, Subject: "user:alice"},
		iam.Event{ID: "4", Type: iam.EventRoleChanged},
	)
	ids := func(es []iam.Event) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	tests := []struct {
		name string
		got  []iam.Event
		want []string
	}{
		{"OfType assigned", r.OfType(iam.EventRoleAssigned), []string{"1", "2"}},
		{"OfType none", r.OfType("no.such.type"), nil},
		{"About alice", r.About("user:alice"), []string{"1", "3"}},
		{"About nobody", r.About("user:carol"), nil},
		{"Find type and subject", r.Find(iam.EventRoleAssigned, "user:alice"), []string{"1"}},
		{"Find any subject", r.Find(iam.EventRoleAssigned, ""), []string{"1", "2"}},
		{"Find any type", r.Find("", "user:alice"), []string{"1", "3"}},
		{"Find no match", r.Find(iam.EventRoleRevoked, "user:bob"), nil},
		{"Events", r.Events(), []string{"1", "2", "3", "4"}},
	}
	for _, tt := range tests {
		if got := ids(tt.got); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	if got, want := r.Types(), []string{iam.EventRoleAssigned, iam.EventRoleAssigned, iam.EventRoleRevoked, iam.EventRoleChanged}; !slices.Equal(got, want) {
		t.Errorf("Types = %v, want %v", got, want)
	}
	if r.Len() != 4 {
		t.Errorf("Len = %d, want 4", r.Len())
	}

	// What a test gets is a copy: editing it does not change the record.
	r.OfType(iam.EventRoleAssigned)[0].Detail["role"] = "forged"
	if got := r.Find(iam.EventRoleAssigned, "user:alice")[0].Detail["role"]; got != "clerk" {
		t.Errorf("editing a returned event changed the record: role = %q", got)
	}

	r.Reset()
	if r.Len() != 0 || r.Events() != nil {
		t.Errorf("after Reset: Len = %d, Events = %v", r.Len(), r.Events())
	}
}

func TestRecorderWait(t *testing.T) {
	t.Parallel()
	var r iamtest.Recorder
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(20 * time.Millisecond)
		recordAll(t, &r, iam.Event{ID: "a", Type: iam.EventRoleAssigned}, iam.Event{ID: "b", Type: iam.EventRoleExpired})
	}()
	e, err := r.Wait(ctx, iam.EventRoleExpired)
	wg.Wait()
	if err != nil || e.ID != "b" {
		t.Fatalf("Wait = %+v, %v; want event b", e, err)
	}
	// An event already recorded satisfies Wait at once.
	if e, err := r.Wait(ctx, iam.EventRoleAssigned); err != nil || e.ID != "a" {
		t.Fatalf("Wait for a recorded event = %+v, %v", e, err)
	}

	// After Reset the old events no longer count, and Wait ends with ctx.
	r.Reset()
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := r.Wait(short, iam.EventRoleAssigned); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait after Reset = %v, want context.DeadlineExceeded", err)
	}
}

// TestRecorderConcurrent records from many goroutines while others wait
// and read; the race detector holds the Recorder to its promise.
func TestRecorderConcurrent(t *testing.T) {
	t.Parallel()
	var r iamtest.Recorder
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 50 {
				_ = r.Record(ctx, iam.Event{Type: iam.EventRoleAssigned, Subject: "user:alice"})
				_ = r.Find(iam.EventRoleAssigned, "user:alice")
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := r.Wait(ctx, iam.EventRoleAssigned); err != nil {
				t.Errorf("Wait: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := len(r.About("user:alice")); got != 200 {
		t.Fatalf("recorded %d events, want 200", got)
	}
}
