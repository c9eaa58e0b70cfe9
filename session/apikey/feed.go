package apikey

import (
	"context"
	"sync"
	"time"
)

// Change is one message of a Feed: what a Manager must drop from its
// cache, or how the feed stands. Exactly one field is set.
type Change struct {
	// ID: this key changed (revoked, rotated, created); or, as "svc:<id>",
	// this service account changed.
	ID string
	// All: anything may have changed (the feed reconnected and may have
	// missed messages); drop everything.
	All bool
	// Alive: the feed is connected and nothing was missed up to now.
	Alive bool
	// Down: the feed cannot be reached; this is why.
	Down error
}

// Feed carries invalidations between the processes that share a Store,
// the way a session.Store's change feed carries session revocations: a
// Manager publishes every change it makes and drops what other processes
// publish. While the feed is not confirmed (Alive) within the staleness
// bound, a Manager reads every key from the Store instead of its cache,
// so a revocation is never missed, only slower to read.
//
// MemoryFeed connects Managers in one process; adapters/redisstore's
// NewKeyFeed connects processes through Redis pub/sub.
type Feed interface {
	// Publish tells every watcher, in every process, that id changed.
	Publish(ctx context.Context, id string) error
	// Watch blocks until ctx is done or the feed fails, calling changed
	// for every published id, with Alive at least every interval while
	// connected, with All after a reconnection, and with Down when the
	// feed is unreachable. changed is called from one goroutine at a time.
	Watch(ctx context.Context, interval time.Duration, changed func(Change)) error
}

// MemoryFeed is a Feed inside one process: every Manager watching it hears
// every Publish. The zero value is ready to use.
type MemoryFeed struct {
	mu   sync.Mutex
	subs map[*memSub]struct{}
}

type memSub struct {
	mu      sync.Mutex
	changed func(Change)
}

var _ Feed = (*MemoryFeed)(nil)

// NewMemoryFeed returns an in-process feed.
func NewMemoryFeed() *MemoryFeed { return &MemoryFeed{} }

// Publish implements Feed: it delivers id to every watcher before it
// returns.
func (f *MemoryFeed) Publish(_ context.Context, id string) error {
	f.mu.Lock()
	subs := make([]*memSub, 0, len(f.subs))
	for s := range f.subs {
		subs = append(subs, s)
	}
	f.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		s.changed(Change{ID: id})
		s.mu.Unlock()
	}
	return nil
}

// Watch implements Feed.
func (f *MemoryFeed) Watch(ctx context.Context, interval time.Duration, changed func(Change)) error {
	s := &memSub{changed: changed}
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[*memSub]struct{}{}
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}()
	alive := func() {
		s.mu.Lock()
		s.changed(Change{Alive: true})
		s.mu.Unlock()
	}
	alive()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			alive()
		}
	}
}
