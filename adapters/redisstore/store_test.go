package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/redisstore"
	"github.com/civic-platform/security/session"
)

var _ session.Store = (*redisstore.Store)(nil)

func rec(id, sub string, created time.Time) session.Session {
	return session.Session{ID: id, Subject: sub, Created: created, LastSeen: created, Expires: created.Add(time.Hour),
		IdleTimeout: 10 * time.Minute, Methods: session.Methods(0).With(session.MethodPassword).With(session.MethodTOTP),
		Level: session.LevelMFA, MFA: session.MFADone, Client: session.Client{Agent: session.NewFingerprint("ua")}}
}

// TestStoreContract: what a session.Store promises, on Redis.
func TestStoreContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, prefix := sharedRedis(t)
	s := newStore(t, addr, prefix)
	now := time.Now().Truncate(time.Millisecond)
	a := rec("a1", "user:alice", now)
	if err := s.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, a); !errors.Is(err, session.ErrInvalidInput) {
		t.Fatalf("duplicate id: %v", err)
	}
	if err := s.Create(ctx, rec("a2", "user:alice", now.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Subject != a.Subject || !got.Created.Equal(a.Created) || !got.Expires.Equal(a.Expires) ||
		got.IdleTimeout != a.IdleTimeout || got.Methods != a.Methods || got.Level != a.Level || got.MFA != a.MFA || got.Client != a.Client {
		t.Fatalf("Get = %+v, want %+v", got, a)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	later := now.Add(5 * time.Minute)
	if got, err := s.Touch(ctx, "a1", later); err != nil || !got.LastSeen.Equal(later) {
		t.Fatalf("Touch = %+v, %v", got, err)
	}
	pttl, err := s.Client().Do(ctx, s.Client().B().Pttl().Key(prefix+"s:a1").Build()).AsInt64()
	if err != nil || pttl < int64((14*time.Minute).Milliseconds()) || pttl > int64((15*time.Minute).Milliseconds()) {
		t.Errorf("record TTL after a touch %d ms, want about 15 min (idle deadline)", pttl)
	}
	list, err := s.List(ctx, "user:alice")
	if err != nil || len(list) != 2 || list[0].ID != "a1" || list[1].ID != "a2" {
		t.Fatalf("List = %v, %v", list, err)
	}
	if d, err := s.Delete(ctx, "a1"); err != nil || d.ID != "a1" {
		t.Fatalf("Delete = %+v, %v", d, err)
	}
	if _, err := s.Delete(ctx, "a1"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Delete twice: %v", err)
	}
	if _, err := s.Touch(ctx, "a1", later); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Touch after delete: %v", err)
	}
	if _, err := s.Get(ctx, "a1"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Touch resurrected a deleted record: %v", err)
	}
	if list, _ := s.List(ctx, "user:alice"); len(list) != 1 {
		t.Fatalf("List after delete: %d", len(list))
	}
}

// TestManagerOnRedis: two Managers, each with its own Redis connection
// (as two processes would have), share sessions. A logout, a log out
// everywhere and a key deleted by hand in Redis each reach the other
// Manager's cache.
func TestManagerOnRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, prefix := sharedRedis(t)
	keys := newKeys(t)
	epochs := session.NewMemoryEpochs()
	a := newManager(t, newStore(t, addr, prefix), keys, session.WithEpochs(epochs))
	b := newManager(t, newStore(t, addr, prefix), keys, session.WithEpochs(epochs))

	verifyBoth := func(tok string) {
		t.Helper()
		for _, m := range []*session.Manager{a, b} {
			if _, err := m.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	refusedBy := func(m *session.Manager, tok string, what string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			_, err := m.Verify(ctx, tok)
			if errors.Is(err, session.ErrNoSession) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %v after 2 s", what, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	start := session.Start{Subject: "user:alice", Method: session.MethodPassword}

	s1, t1, err := a.Create(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	verifyBoth(t1)
	if b.Health().Cached != 1 {
		t.Fatalf("b cached %d", b.Health().Cached)
	}
	if err := a.Logout(ctx, t1); err != nil {
		t.Fatal(err)
	}
	refusedBy(b, t1, "after logout in a")

	_, t2, _ := a.Create(ctx, start)
	_, t3, _ := b.Create(ctx, start)
	verifyBoth(t2)
	verifyBoth(t3)
	if n, err := b.LogoutEverywhere(ctx, "user:alice"); err != nil || n != 2 {
		t.Fatalf("LogoutEverywhere = %d, %v", n, err)
	}
	refusedBy(a, t2, "after log-out-everywhere in b")
	refusedBy(a, t3, "after log-out-everywhere in b")

	time.Sleep(time.Millisecond) // past the epoch
	s4, t4, _ := a.Create(ctx, session.Start{Subject: "user:bob", Method: session.MethodPassword})
	verifyBoth(t4)
	c := s4
	if err := do(t, addr, "DEL", prefix+"s:"+c.ID).Error(); err != nil {
		t.Fatal(err)
	}
	refusedBy(a, t4, "after a DEL by hand")
	refusedBy(b, t4, "after a DEL by hand")
	_ = s1
}
