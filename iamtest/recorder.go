package iamtest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/civic-platform/security/iam"
)

// Recorder is an [iam.AuditSink] that keeps every event it receives, in
// order, and lets a test find them by type and subject. The zero Recorder
// is ready to use; it is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	events  []iam.Event
	changed chan struct{} // closed and replaced on each Record and Reset; nil until a Wait
}

// Record keeps e. It never fails.
func (r *Recorder) Record(_ context.Context, e iam.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	r.wake()
	return nil
}

// wake tells waiters that the events changed. r.mu is held.
func (r *Recorder) wake() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Events returns a copy of the events recorded so far, oldest first.
func (r *Recorder) Events() []iam.Event {
	return r.filter(func(iam.Event) bool { return true })
}

// Len returns how many events have been recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Types returns the type of each recorded event, oldest first: a compact
// thing to compare with an expected sequence.
func (r *Recorder) Types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i] = e.Type
	}
	return out
}

// OfType returns the recorded events of type typ ("role.assigned", or a
// constant such as [iam.EventRoleAssigned]), oldest first.
func (r *Recorder) OfType(typ string) []iam.Event {
	return r.filter(func(e iam.Event) bool { return e.Type == typ })
}

// About returns the recorded events whose subject is sub, oldest first.
func (r *Recorder) About(sub iam.Subject) []iam.Event {
	return r.filter(func(e iam.Event) bool { return e.Subject == sub })
}

// Find returns the recorded events of type typ about sub, oldest first.
// An empty typ or sub matches any.
func (r *Recorder) Find(typ string, sub iam.Subject) []iam.Event {
	return r.filter(func(e iam.Event) bool {
		return (typ == "" || e.Type == typ) && (sub == "" || e.Subject == sub)
	})
}

func (r *Recorder) filter(keep func(iam.Event) bool) []iam.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []iam.Event
	for _, e := range r.events {
		if keep(e) {
			out = append(out, cloneEvent(e))
		}
	}
	return out
}

// Wait blocks until an event of type typ has been recorded (or already
// was, since the last [Recorder.Reset]) and returns the first such event.
// It returns ctx's error, wrapped, when ctx ends first: give it a
// deadline. Use it for events delivered from another goroutine, such as
// the reaper's or a relay's.
func (r *Recorder) Wait(ctx context.Context, typ string) (iam.Event, error) {
	for {
		r.mu.Lock()
		if i := slices.IndexFunc(r.events, func(e iam.Event) bool { return e.Type == typ }); i >= 0 {
			e := cloneEvent(r.events[i])
			r.mu.Unlock()
			return e, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return iam.Event{}, fmt.Errorf("iamtest: waiting for a %q event: %w", typ, ctx.Err())
		}
	}
}

// Reset forgets every recorded event.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = nil
	r.wake()
}

// cloneEvent copies e's detail, so that a test that edits what it got
// does not change what the Recorder holds.
func cloneEvent(e iam.Event) iam.Event {
	e.Detail = maps.Clone(e.Detail)
	return e
}
