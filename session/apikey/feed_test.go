package apikey_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/civic-platform/security/session/apikey"
)

// ctlFeed is a Feed the test drives: Watch hands its callback over and
// blocks.
type ctlFeed struct{ watching chan func(apikey.Change) }

func (f *ctlFeed) Publish(context.Context, string) error { return nil }
func (f *ctlFeed) Watch(ctx context.Context, _ time.Duration, changed func(apikey.Change)) error {
	select {
	case f.watching <- changed:
	case <-ctx.Done():
		return ctx.Err()
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestFeedConnectDropsEarlierReads: a key read before the feed first
// confirms may have missed a revocation published before this process
// subscribed; the first Alive drops it.
func TestFeedConnectDropsEarlierReads(t *testing.T) {
	feed := &ctlFeed{watching: make(chan func(apikey.Change), 1)}
	f := newFixture(t)
	c := f.create(t, "permits-sync", apikey.KeySpec{})
	m := f.manager(t, apikey.WithFeed(feed))
	changed := <-feed.watching
	if _, err := m.Verify(f.ctx, c.Secret); err != nil { // read while not yet confirmed
		t.Fatal(err)
	}
	// Revoked by another process; its publication was never heard here.
	if _, err := f.store.RevokeKey(f.ctx, c.Key.ID, t0); err != nil {
		t.Fatal(err)
	}
	changed(apikey.Change{Alive: true})
	if !m.Health().Connected {
		t.Fatal("not connected after Alive")
	}
	if _, err := m.Verify(f.ctx, c.Secret); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("after connecting: %v, want ErrRevoked", err)
	}
	// While confirmed, a cached key is served; Down stops that at once.
	d := f.create(t, "gl-export", apikey.KeySpec{})
	changed(apikey.Change{Alive: true})
	if _, err := m.Verify(f.ctx, d.Secret); err != nil {
		t.Fatal(err)
	}
	f.store.RevokeKey(f.ctx, d.Key.ID, t0)
	if _, err := m.Verify(f.ctx, d.Secret); err != nil {
		t.Fatalf("cached key not served while confirmed: %v", err)
	}
	changed(apikey.Change{Down: errors.New("connection reset")})
	if _, err := m.Verify(f.ctx, d.Secret); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("feed down: %v, want the store's answer", err)
	}
	// Past the staleness bound without a confirmation, likewise.
	changed(apikey.Change{Alive: true})
	e := f.create(t, "gl-export", apikey.KeySpec{})
	m.Verify(f.ctx, e.Secret)
	f.store.RevokeKey(f.ctx, e.Key.ID, t0)
	f.clk.add(apikey.DefaultMaxStaleness + time.Nanosecond)
	if _, err := m.Verify(f.ctx, e.Secret); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("past the staleness bound: %v", err)
	}
}

// slowStore lets a test hold a Key read after it has read.
type slowStore struct {
	*apikey.MemoryStore
	read, release chan struct{}
}

func (s *slowStore) Key(ctx context.Context, id string) (apikey.Key, apikey.Account, error) {
	k, a, err := s.MemoryStore.Key(ctx, id)
	if s.read != nil {
		s.read <- struct{}{}
		<-s.release
	}
	return k, a, err
}

// TestRevokeDuringMissIsNotUndone: a verification that read the key
// before a revocation committed does not cache what it read.
func TestRevokeDuringMissIsNotUndone(t *testing.T) {
	f := newFixture(t)
	c := f.create(t, "permits-sync", apikey.KeySpec{})
	slow := &slowStore{MemoryStore: f.store, read: make(chan struct{}), release: make(chan struct{})}
	m, err := apikey.New(slow, f.authz, f.key, apikey.WithClock(f.clk.now))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	done := make(chan error, 1)
	go func() { _, err := m.Verify(f.ctx, c.Secret); done <- err }()
	<-slow.read // the verification has read the live key
	slow.read = nil
	if err := m.Revoke(f.ctx, c.Key.ID, "test"); err != nil {
		t.Fatal(err)
	}
	close(slow.release)
	<-done // it may succeed: it read before the revocation
	if _, err := m.Verify(f.ctx, c.Secret); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("after the revocation: %v", err)
	}
}

// countingStore counts key reads.
type countingStore struct {
	*apikey.MemoryStore
	reads int
}

func (s *countingStore) Key(ctx context.Context, id string) (apikey.Key, apikey.Account, error) {
	s.reads++
	return s.MemoryStore.Key(ctx, id)
}

// TestWarmVerifyReadsNoStore: a miss reads the store once; warm
// verifications read nothing; a last use survives its entry's eviction.
func TestWarmVerifyReadsNoStore(t *testing.T) {
	f := newFixture(t)
	a := f.create(t, "permits-sync", apikey.KeySpec{})
	b := f.create(t, "gl-export", apikey.KeySpec{})
	cs := &countingStore{MemoryStore: f.store}
	m, err := apikey.New(cs, f.authz, f.key, apikey.WithClock(f.clk.now), apikey.WithCache(1), apikey.WithFlushInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for range 100 {
		if _, err := m.Verify(f.ctx, a.Secret); err != nil {
			t.Fatal(err)
		}
	}
	if cs.reads != 1 {
		t.Fatalf("%d store reads for 100 verifications, want 1", cs.reads)
	}
	f.clk.add(time.Second)
	if _, err := m.Verify(f.ctx, b.Secret); err != nil { // evicts a
		t.Fatal(err)
	}
	if err := m.Flush(f.ctx); err != nil {
		t.Fatal(err)
	}
	ka, _, _ := f.store.Key(f.ctx, a.Key.ID)
	kb, _, _ := f.store.Key(f.ctx, b.Key.ID)
	if !ka.LastUsed.Equal(t0) || !kb.LastUsed.Equal(t0.Add(time.Second)) {
		t.Fatalf("last uses %v, %v", ka.LastUsed, kb.LastUsed)
	}
}
