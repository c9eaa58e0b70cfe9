package iamtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// NewStore returns an in-memory policy store holding m at revision 1. If
// m is invalid, LoadPolicy reports why, so [iam.New] fails with that
// error.
func NewStore(m rbac.Model) *Store {
	m = m.Clone()
	p, err := rbac.Compile(m)
	if err != nil {
		err = fmt.Errorf("iamtest: %w", err)
	}
	return &Store{m: m, p: p, rev: 1, err: err}
}

// Store is an in-memory policy store for tests: an [iam.PolicySource], an
// [iam.PolicyWriter] and, like the SQL stores, an [iam.RevisionSource] and
// an [iam.EventWriter] with an outbox. It is safe for concurrent use.
//
// It validates a change as the SQL stores do (rbac.Update: the change
// applied, compiled and checked against conflict rules before anything is
// kept) and keeps a change and its events together: [Store.ApplyWithEvents]
// either keeps both or neither. The events wait in the outbox, as JSON
// exactly as the SQL stores keep them, until [Store.Relay] hands them to a
// sink, oldest first, the way adapters/pgoutbox does; with
// [Store.AutoRelay] that happens as soon as each change is kept.
type Store struct {
	err error // why the initial model was refused

	mu  sync.RWMutex
	m   rbac.Model
	p   *rbac.Policy // m compiled
	rev int64

	outbox   []outboxRow     // in the order the changes were kept
	sent     int             // outbox[:sent] has been delivered
	ids      map[string]bool // event ids in the outbox: the idempotency keys
	relayMu  sync.Mutex      // one relay at a time, so delivery keeps order
	autoSink iam.AuditSink
}

type outboxRow struct {
	id      string
	payload []byte // the event's JSON, as in iam_outbox.payload
}

// LoadPolicy returns a copy of the current model and its revision.
func (s *Store) LoadPolicy(ctx context.Context) (rbac.Model, int64, error) {
	if s.err != nil {
		return rbac.Model{}, 0, s.err
	}
	if err := ctx.Err(); err != nil {
		return rbac.Model{}, 0, fmt.Errorf("iamtest: load policy: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m.Clone(), s.rev, nil
}

// LoadCompiled is LoadPolicy that also returns the compiled policy
// ([iam.CompiledSource]). When the revision is not above after, it
// returns only the revision.
func (s *Store) LoadCompiled(ctx context.Context, after int64) (rbac.Model, *rbac.Policy, int64, error) {
	if s.err != nil {
		return rbac.Model{}, nil, 0, s.err
	}
	if err := ctx.Err(); err != nil {
		return rbac.Model{}, nil, 0, fmt.Errorf("iamtest: load policy: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.rev <= after {
		return rbac.Model{}, nil, s.rev, nil
	}
	return s.m.Clone(), s.p, s.rev, nil
}

// Revision returns the current revision ([iam.RevisionSource]), as the
// SQL stores answer it with one small query, so that an Authorizer over
// the fake keeps itself current and bounds its staleness the way it does
// over them.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("iamtest: revision: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rev, nil
}

// Apply validates c against the current model and applies it atomically,
// returning the new revision. A refused change leaves the store untouched.
func (s *Store) Apply(ctx context.Context, c rbac.Change) (int64, error) {
	return s.ApplyWithEvents(ctx, c, nil)
}

// ApplyWithEvents applies c like [Store.Apply] and, in the same step,
// puts the events that events returns for the new revision in the outbox
// ([iam.EventWriter]). events is called once, after c has been validated,
// and not at all if c is refused. An event without an id, or whose id is
// already in the outbox, refuses the whole change, as the SQL stores'
// unique index does. After the change is kept, an [Store.AutoRelay] sink
// receives the pending events; its failure leaves them pending and does
// not undo the change.
func (s *Store) ApplyWithEvents(ctx context.Context, c rbac.Change, events func(revision int64) []iam.Event) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("iamtest: apply: %w", err)
	}
	if c.At.IsZero() {
		c.At = time.Now()
	}
	rev, err := s.apply(c, events)
	if err != nil {
		return 0, err
	}
	s.mu.RLock()
	sink := s.autoSink
	s.mu.RUnlock()
	if sink != nil {
		_, _ = s.Relay(context.WithoutCancel(ctx), sink) // undelivered events stay pending
	}
	return rev, nil
}

func (s *Store) apply(c rbac.Change, events func(revision int64) []iam.Event) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, p, err := rbac.Update(s.m, c) // a deep copy, validated and compiled
	if err != nil {
		return 0, fmt.Errorf("iamtest: apply: %w", err)
	}
	rev := s.rev + 1
	var rows []outboxRow
	if events != nil {
		seen := map[string]bool{}
		for _, e := range events(rev) {
			if e.ID == "" || s.ids[e.ID] || seen[e.ID] {
				return 0, fmt.Errorf("iamtest: apply: outbox: event %q without an id or already stored: %w", e.Type, rbac.ErrInvalidInput)
			}
			seen[e.ID] = true
			if e.Version == 0 {
				e.Version = iam.EventSchemaVersion // as the SQL stores stamp it
			}
			b, err := json.Marshal(e)
			if err != nil {
				return 0, fmt.Errorf("iamtest: apply: outbox: %w", err)
			}
			rows = append(rows, outboxRow{id: e.ID, payload: b})
		}
	}
	// Validated and encoded: keep the change and its events together.
	s.m, s.p, s.rev = next, p, rev
	if s.ids == nil {
		s.ids = map[string]bool{}
	}
	for _, r := range rows {
		s.ids[r.id] = true
	}
	s.outbox = append(s.outbox, rows...)
	return rev, nil
}

// Relay hands the outbox's undelivered events to sink, oldest first, each
// decoded from its stored JSON as adapters/pgoutbox does, and marks each
// delivered once sink accepts it. It stops at the first error, which it
// returns with the number delivered; that event and the later ones stay
// pending for the next Relay. Relays run one at a time.
func (s *Store) Relay(ctx context.Context, sink iam.AuditSink) (int, error) {
	if sink == nil {
		return 0, errors.New("iamtest: Relay: nil sink")
	}
	s.relayMu.Lock()
	defer s.relayMu.Unlock()
	n := 0
	for {
		s.mu.RLock()
		pending := s.sent < len(s.outbox)
		var row outboxRow
		if pending {
			row = s.outbox[s.sent]
		}
		s.mu.RUnlock()
		if !pending {
			return n, nil
		}
		var e iam.Event
		if err := json.Unmarshal(row.payload, &e); err != nil {
			return n, fmt.Errorf("iamtest: relay: event %s: %w", row.id, err)
		}
		if err := sink.Record(ctx, e); err != nil {
			return n, fmt.Errorf("iamtest: relay: %w", err)
		}
		s.mu.Lock()
		s.sent++ // only relays move it, one at a time
		s.mu.Unlock()
		n++
	}
}

// Pending returns the number of events in the outbox not yet delivered.
func (s *Store) Pending() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.outbox) - s.sent
}

// AutoRelay makes the store relay its outbox to sink after each change it
// keeps, before ApplyWithEvents returns: a relay with no delay, so a test
// sees a change's events as soon as the write returns. As with a relay
// in another process, the events may reach sink before an Authorizer has
// reloaded the change. A nil sink turns it off.
func (s *Store) AutoRelay(sink iam.AuditSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoSink = sink
}
