package redisstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/session"
)

// sqliteEpochs is the embedded policy store's epoch table in a temp dir.
func sqliteEpochs(t testing.TB) *sqlitestore.Epochs {
	t.Helper()
	db, err := sqlitestore.Open(filepath.Join(t.TempDir(), "iam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlitestore.MigrateEpochs(context.Background(), db.DB()); err != nil {
		t.Fatal(err)
	}
	e, err := sqlitestore.NewEpochs(db.DB())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestFlushAll runs on a private redis-server (FLUSHALL would wipe the
// shared one). Sessions cached in a Manager are refused after FLUSHALL.
// Then Redis "comes back from an old snapshot": records of sessions that
// were logged out, or logged out everywhere, before the flush reappear;
// the revocations in the policy store still refuse them, in the Manager
// that revoked them and in a fresh one with an empty cache.
func TestFlushAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startRedis(t)
	keys := newKeys(t)
	epochs := sqliteEpochs(t)
	store := newStore(t, srv.addr, "iam:")
	m := newManager(t, store, keys, session.WithEpochs(epochs))

	_, bob, err := m.Create(ctx, session.Start{Subject: "user:bob", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	alice, aliceTok, err := m.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{bob, aliceTok} {
		if _, err := m.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	carol, carolTok, err := m.Create(ctx, session.Start{Subject: "user:carol", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	snapshot, err := do(t, srv.addr, "DUMP", "iam:s:"+alice.ID).ToString()
	if err != nil {
		t.Fatal(err)
	}
	carolSnap, err := do(t, srv.addr, "DUMP", "iam:s:"+carol.ID).ToString()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := m.LogoutEverywhere(ctx, "user:alice"); err != nil {
		t.Fatal(err)
	}
	if err := m.Logout(ctx, carolTok); err != nil {
		t.Fatal(err)
	}

	if err := do(t, srv.addr, "FLUSHALL").Error(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := m.Verify(ctx, bob)
		if errors.Is(err, session.ErrNoSession) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cached session after FLUSHALL: %v", err)
		}
		time.Sleep(time.Millisecond)
	}

	// The old copies of alice's and carol's records come back.
	if err := do(t, srv.addr, "RESTORE", "iam:s:"+alice.ID, "0", snapshot).Error(); err != nil {
		t.Fatal(err)
	}
	if err := do(t, srv.addr, "RESTORE", "iam:s:"+carol.ID, "0", carolSnap).Error(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, alice.ID); err != nil {
		t.Fatalf("the restored record is not there: %v", err)
	}
	fresh := newManager(t, newStore(t, srv.addr, "iam:"), keys, session.WithEpochs(epochs))
	for name, mm := range map[string]*session.Manager{"revoking manager": m, "fresh manager": fresh} {
		if _, err := mm.Verify(ctx, aliceTok); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("%s: a session logged out everywhere came back after a flush and restore: %v", name, err)
		}
		if _, err := mm.Verify(ctx, carolTok); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("%s: a logged-out session came back after a flush and restore: %v", name, err)
		}
	}
}

// hits counts the verifications a Manager answered from its cache.
type hits struct{ n atomic.Int64 }

func (h *hits) Lookup(_ context.Context, hit, ok bool) {
	if hit && ok {
		h.n.Add(1)
	}
}

// TestRedisUnreachable: a Manager reaches Redis through a proxy that the
// test severs. Cached sessions are served for the staleness bound after
// the last confirmation of the change feed, never after it, then refused
// with ErrUnavailable; an uncached token is refused at once; Health says
// so; all recovers when the proxy is restored.
//
// The cache serves only a session it holds while the feed is confirmed,
// so the test first waits until the session is answered from the cache,
// and judges each answer after the cut against the feed's last
// confirmation (Health().Confirmed), not against the moment of the cut: on
// a loaded machine the last confirmation may precede the cut by most of
// the bound, and the first verification after the cut may start late.
func TestRedisUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, prefix := sharedRedis(t)
	proxied, sever, restore := testdb.Proxy(t, addr)
	keys := newKeys(t)
	const bound = 3 * time.Second
	cache := &hits{}
	m := newManager(t, newStore(t, proxied, prefix), keys, session.WithMaxStaleness(bound), session.WithObserver(cache))
	direct := newManager(t, newStore(t, addr, prefix), keys)
	_, cached, err := m.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	_, uncached, err := direct.Create(ctx, session.Start{Subject: "user:bob", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	// Until the session is answered from the cache (it is cached by a
	// verification made while the feed is confirmed).
	for deadline := time.Now().Add(10 * time.Second); cache.n.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the session is never answered from the cache: %+v", m.Health())
		}
		if _, err := m.Verify(ctx, cached); err != nil {
			t.Fatal(err)
		}
	}
	sever()
	cut := time.Now()
	type answer struct {
		at     time.Time // when Verify was called
		served bool
	}
	var answers []answer
	for {
		vctx, cancel := context.WithTimeout(ctx, time.Second)
		called := time.Now()
		before := cache.n.Load()
		_, err := m.Verify(vctx, cached)
		cancel()
		if err != nil {
			if !errors.Is(err, session.ErrUnavailable) {
				t.Fatalf("refusal while cut off: %v", err)
			}
			answers = append(answers, answer{at: called})
			break
		}
		if cache.n.Load() == before {
			t.Fatalf("answered from the store while it is cut off")
		}
		answers = append(answers, answer{at: called, served: true})
		if time.Since(cut) > 10*bound {
			t.Fatalf("still served %s after the cut", time.Since(cut))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Nothing confirms after the cut, so this is the last confirmation.
	confirmed := m.Health().Confirmed
	if confirmed.IsZero() || confirmed.After(time.Now()) {
		t.Fatalf("last confirmation %v", confirmed)
	}
	end := confirmed.Add(bound)
	served := 0
	for _, a := range answers {
		switch {
		case a.served:
			served++
			// The bound's promise: nothing is served from the cache after it.
			if a.at.After(end) {
				t.Errorf("served %s after the last confirmation (bound %s)", a.at.Sub(confirmed), bound)
			}
		case a.at.Before(end.Add(-time.Second)):
			// Refused although called well within the bound (a second's
			// margin for a call that is descheduled before it reads the clock).
			t.Errorf("refused %s after the last confirmation, well within the bound %s", a.at.Sub(confirmed), bound)
		}
	}
	t.Logf("served %d verifications from the cache; the first call %s and the refusal %s after the last confirmation (bound %s)",
		served, answers[0].at.Sub(confirmed), answers[len(answers)-1].at.Sub(confirmed), bound)
	if h := m.Health(); h.Connected || h.Err == nil {
		t.Errorf("Health while cut off: %+v", h)
	}
	vctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = m.Verify(vctx, uncached)
	cancel()
	if !errors.Is(err, session.ErrUnavailable) || errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("uncached token while Redis is cut off: %v", err)
	}
	restore()
	waitHealthy(t, m)
	for _, tok := range []string{cached, uncached} {
		if _, err := m.Verify(ctx, tok); err != nil {
			t.Fatalf("after the restore: %v", err)
		}
	}
}
