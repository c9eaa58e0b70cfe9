package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/civic-platform/security/adapters/redisstore"
	"github.com/civic-platform/security/session/sso"
)

var (
	_ sso.OnceStore   = (*redisstore.SSOStore)(nil)
	_ sso.ReplayCache = (*redisstore.SSOStore)(nil)
)

func newSSO(t *testing.T) (*redisstore.SSOStore, *redisstore.SSOStore) {
	t.Helper()
	addr, prefix := sharedRedis(t)
	// Two clients: two processes sharing one Redis.
	var out [2]*redisstore.SSOStore
	for i := range out {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dropPrefix(c, prefix); c.Close() })
		out[i] = redisstore.NewSSOStore(c, prefix)
	}
	return out[0], out[1]
}

func TestSSOOnceAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := newSSO(t)
	if err := a.Put(ctx, "state-1", []byte("rec"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "state-1", []byte("other"), time.Minute); !errors.Is(err, sso.ErrExists) {
		t.Fatalf("second put: %v, want ErrExists", err)
	}
	// Many processes race to take it; exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			if v, err := s.Take(ctx, "state-1"); err == nil && string(v) == "rec" {
				wins.Add(1)
			} else if err != nil && !errors.Is(err, sso.ErrNotFound) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d takes won, want 1", wins.Load())
	}
	if err := a.Put(ctx, "short", []byte("x"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := b.Take(ctx, "short"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("expired take: %v", err)
	}
	if err := a.Put(ctx, "bad", nil, 0); err == nil {
		t.Error("zero ttl accepted")
	}
}

func TestSSOReplayAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := newSSO(t)
	id := "adfs:_a75adf55-01d7-4e58-a1c1-2d0b7e3f0a11"
	if err := a.Consume(ctx, id, time.Now().Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := b.Consume(ctx, id, time.Now().Add(5*time.Minute)); !errors.Is(err, sso.ErrReplay) {
		t.Fatalf("replay on another process: %v, want ErrReplay", err)
	}
	// Hostile ids are only hashed, never interpreted.
	for _, h := range []string{"", "x' OR 1=1", "*", "\x00\r\nDEL *", string(make([]byte, 10000))} {
		if err := a.Consume(ctx, h, time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("consume %q: %v", h, err)
		}
		if err := b.Consume(ctx, h, time.Now().Add(time.Minute)); !errors.Is(err, sso.ErrReplay) {
			t.Fatalf("replay %q: %v", h, err)
		}
	}
	// An expiry in the past is still remembered for a while.
	if err := a.Consume(ctx, "old", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.Consume(ctx, "old", time.Now()); !errors.Is(err, sso.ErrReplay) {
		t.Fatalf("past-expiry id forgotten: %v", err)
	}
}
