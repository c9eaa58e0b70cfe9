package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/session"
)

// eventually fails the test unless ok holds within d.
func eventually(t *testing.T, d time.Duration, what string, ok func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := ok()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, d, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// refused is nil when Verify refuses tok with want.
func refused(m *session.Manager, tok string, want error) func() error {
	return func() error {
		_, err := m.Verify(context.Background(), tok)
		if errors.Is(err, want) {
			return nil
		}
		return fmt.Errorf("Verify = %v, want %v", err, want)
	}
}

// TestFlushAllSharedStore: several Managers share one Store (one Redis
// client). After a FLUSHALL every one of them refuses the sessions it had
// cached, not only the first to hear of it.
func TestFlushAllSharedStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startRedis(t)
	keys := newKeys(t)
	store := newStore(t, srv.addr, "iam:")
	ms := []*session.Manager{
		newManager(t, store, keys, session.WithMaxStaleness(time.Hour)),
		newManager(t, store, keys, session.WithMaxStaleness(time.Hour)),
		newManager(t, store, keys, session.WithMaxStaleness(time.Hour)),
	}
	_, tok, err := ms[0].Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if _, err := m.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := do(t, srv.addr, "FLUSHALL").Error(); err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		eventually(t, 2*time.Second, fmt.Sprintf("manager %d after FLUSHALL", i), refused(m, tok, session.ErrNoSession))
	}
}

// restart kills the server and starts it again on the same port and
// directory, loading dump.rdb if there is one.
func (r *redisServer) restart(t *testing.T) {
	t.Helper()
	r.stop()
	cmd := exec.Command(r.cmd.Path, "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--dir", r.dir, "--save", "",
		"--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.cmd = cmd
	eventually(t, 10*time.Second, "redis restart", func() error {
		c, err := net.DialTimeout("tcp", r.addr, 100*time.Millisecond)
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Fprintf(c, "PING\r\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "+PONG") {
			return fmt.Errorf("PING: %q %v", line, err)
		}
		return nil
	})
}

// TestRedisRestart: Redis restarts from a snapshot taken before a logout,
// a revocation and a log out everywhere. Those sessions stay refused, in
// Managers that had them cached, on their own clients or sharing one; a
// session that was not ended still works after the restart.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startRedis(t)
	keys := newKeys(t)
	epochs := sqliteEpochs(t)
	shared := newStore(t, srv.addr, "iam:")
	ms := []*session.Manager{
		newManager(t, shared, keys, session.WithEpochs(epochs), session.WithMaxStaleness(time.Hour)),
		newManager(t, shared, keys, session.WithEpochs(epochs), session.WithMaxStaleness(time.Hour)),
		newManager(t, newStore(t, srv.addr, "iam:"), keys, session.WithEpochs(epochs), session.WithMaxStaleness(time.Hour)),
	}
	start := func(sub string) (session.Session, string) {
		s, tok, err := ms[0].Create(ctx, session.Start{Subject: sub, Method: session.MethodPassword})
		if err != nil {
			t.Fatal(err)
		}
		return s, tok
	}
	_, out := start("user:alice")
	rs, revoked := start("user:bob")
	_, everywhere := start("user:carol")
	_, kept := start("user:dave")
	for _, m := range ms {
		for _, tok := range []string{out, revoked, everywhere, kept} {
			if _, err := m.Verify(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := do(t, srv.addr, "SAVE").Error(); err != nil {
		t.Fatal(err)
	}
	if err := ms[1].Logout(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := ms[2].Revoke(ctx, rs.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ms[0].LogoutEverywhere(ctx, "user:carol"); err != nil {
		t.Fatal(err)
	}
	srv.restart(t)
	for i, m := range ms {
		for _, tok := range []string{out, revoked, everywhere} {
			eventually(t, 5*time.Second, fmt.Sprintf("manager %d: an ended session after the restart", i), refused(m, tok, session.ErrNoSession))
		}
	}
	for i, m := range ms {
		eventually(t, 10*time.Second, fmt.Sprintf("manager %d: a live session after the restart", i), func() error {
			_, err := m.Verify(ctx, kept)
			return err
		})
		if h := m.Health(); !h.Connected {
			t.Errorf("manager %d Health after the restart: %+v", i, h)
		}
	}
}

// TestEndsReachEveryManager: on Redis, two Managers with their own
// clients and a shared EpochStore both have a session cached; each way it
// can end makes both refuse it promptly (idle and absolute expiry when they
// fall due). The 100 ms target is measured across OS processes by
// TestProcessesSeeRevocations; here the bound is one no load excuses, so
// the race detector or a busy machine cannot fail the test.
func TestEndsReachEveryManager(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, prefix := sharedRedis(t)
	keys := newKeys(t)
	epochs := sqliteEpochs(t)
	opts := []session.Option{session.WithEpochs(epochs), session.WithMaxStaleness(time.Hour),
		session.WithIdleTimeout(time.Hour), session.WithAbsoluteLifetime(time.Hour)}
	a := newManager(t, newStore(t, addr, prefix), keys, opts...)
	b := newManager(t, newStore(t, addr, prefix), keys, opts...)
	short := newManager(t, newStore(t, addr, prefix), keys, session.WithEpochs(epochs), session.WithMaxStaleness(time.Hour),
		session.WithIdleTimeout(300*time.Millisecond), session.WithAbsoluteLifetime(time.Hour))
	brief := newManager(t, newStore(t, addr, prefix), keys, session.WithEpochs(epochs), session.WithMaxStaleness(time.Hour),
		session.WithIdleTimeout(0), session.WithAbsoluteLifetime(1200*time.Millisecond))
	ways := []struct {
		name   string
		maker  *session.Manager
		end    func(s session.Session, tok string) error
		within time.Duration
	}{
		{"logout", a, func(_ session.Session, tok string) error { return b.Logout(ctx, tok) }, 2 * time.Second},
		{"revoke", a, func(s session.Session, _ string) error { return b.Revoke(ctx, s.ID) }, 2 * time.Second},
		{"everywhere", a, func(s session.Session, _ string) error { _, err := b.LogoutEverywhere(ctx, s.Subject); return err }, 2 * time.Second},
		{"idle", short, func(session.Session, string) error { time.Sleep(300 * time.Millisecond); return nil }, 2 * time.Second},
		{"absolute", brief, func(s session.Session, _ string) error { time.Sleep(time.Until(s.Expires)); return nil }, 2 * time.Second},
	}
	for i, w := range ways {
		s, tok, err := w.maker.Create(ctx, session.Start{Subject: fmt.Sprintf("user:u%d", i), Method: session.MethodPassword})
		if err != nil {
			t.Fatal(err)
		}
		readers := []*session.Manager{a, b, w.maker}
		for _, m := range readers {
			if _, err := m.Verify(ctx, tok); err != nil {
				t.Fatalf("%s: %v", w.name, err)
			}
		}
		if err := w.end(s, tok); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		for j, m := range readers {
			eventually(t, w.within, fmt.Sprintf("%s, manager %d", w.name, j), func() error {
				if _, err := m.Verify(ctx, tok); !errors.Is(err, session.ErrInvalidToken) {
					return fmt.Errorf("Verify = %v", err)
				}
				return nil
			})
		}
		if l, err := a.List(ctx, s.Subject); err != nil || len(l) != 0 {
			t.Errorf("%s: List = %d, %v", w.name, len(l), err)
		}
	}
}

// TestLogoutEverywhereSameInstantOnRedis: with records on Redis and
// epochs in SQLite (both keep nanoseconds), two Managers on one frozen
// clock: log out everywhere refuses what was created before it and
// accepts what is created after it, in both Managers.
func TestLogoutEverywhereSameInstantOnRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, prefix := sharedRedis(t)
	keys := newKeys(t)
	epochs := sqliteEpochs(t)
	frozen := time.Now()
	clock := func() time.Time { return frozen }
	a := newManager(t, newStore(t, addr, prefix), keys, session.WithEpochs(epochs), session.WithClock(clock))
	b := newManager(t, newStore(t, addr, prefix), keys, session.WithEpochs(epochs), session.WithClock(clock))
	st := session.Start{Subject: "user:alice", Method: session.MethodPassword}
	_, before, err := a.Create(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*session.Manager{a, b} {
		if _, err := m.Verify(ctx, before); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.LogoutEverywhere(ctx, "user:alice"); err != nil || n != 1 {
		t.Fatalf("LogoutEverywhere = %d, %v", n, err)
	}
	_, after, err := a.Create(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range []*session.Manager{a, b} {
		eventually(t, time.Second, fmt.Sprintf("manager %d, session from before", i), refused(m, before, session.ErrNoSession))
		if _, err := m.Verify(ctx, after); err != nil {
			t.Errorf("manager %d, session from after: %v", i, err)
		}
		if l, err := m.List(ctx, "user:alice"); err != nil || len(l) != 1 {
			t.Errorf("manager %d: List = %d, %v", i, len(l), err)
		}
	}
}

// TestRedisUnreachableFrozenClock: the staleness bound holds in real time
// even when the Manager's injected clock stands still: with Redis cut off,
// a cached session is refused with ErrUnavailable once the bound has
// passed, and Health says so; two Managers sharing the Store both.
func TestRedisUnreachableFrozenClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, prefix := sharedRedis(t)
	proxied, sever, restore := testdb.Proxy(t, addr)
	keys := newKeys(t)
	frozen := time.Now()
	clock := func() time.Time { return frozen }
	const bound = 300 * time.Millisecond
	store := newStore(t, proxied, prefix)
	ms := []*session.Manager{
		newManager(t, store, keys, session.WithClock(clock), session.WithMaxStaleness(bound)),
		newManager(t, store, keys, session.WithClock(clock), session.WithMaxStaleness(bound)),
	}
	_, tok, err := ms[0].Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if _, err := m.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	sever()
	time.Sleep(bound + 200*time.Millisecond)
	for i, m := range ms {
		vctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := m.Verify(vctx, tok)
		cancel()
		if !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("manager %d past the bound: %v", i, err)
		}
		if h := m.Health(); h.Connected || h.Err == nil {
			t.Errorf("manager %d Health: %+v", i, h)
		}
	}
	restore()
	for i, m := range ms {
		waitHealthy(t, m)
		if _, err := m.Verify(ctx, tok); err != nil {
			t.Errorf("manager %d after the restore: %v", i, err)
		}
	}
}
