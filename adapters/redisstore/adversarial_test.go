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
