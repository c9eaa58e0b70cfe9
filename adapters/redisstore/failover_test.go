package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/civic-platform/security/adapters/redisstore"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/session"
)

// startSentinel starts a Redis Sentinel watching the primary at port
// under the name master, quorum 1, that declares it down after 500 ms.
func startSentinel(t *testing.T, master string, primaryPort int) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testdb.Required() {
			t.Fatal("redis-server not installed (IAM_REQUIRE_SERVICES=1)")
		}
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
		"sentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 500\n"+
		"sentinel failover-timeout %s 3000\nsentinel parallel-syncs %s 1\n",
		port, dir, filepath.Join(dir, "sentinel.log"), master, primaryPort, master, master, master)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel on %s did not start", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFailoverLosesNoRevocation: a primary and a replica started by the
// test, watched by a Sentinel. Sessions are created, some logged out (each
// deletion acknowledged by the replica: WithReplicaAck), one subject
// logged out everywhere (its epoch in the embedded policy store), and one
// session logged out after the replica was cut off, which the replica never
// acknowledges (the revocation in the policy store stands for it); then the
// primary is killed at once. After Sentinel promotes the replica, a fresh
// process's Manager refuses every revoked token and accepts the others.
func TestFailoverLosesNoRevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary := startRedis(t)
	// The replica reaches the primary through a proxy the test can cut.
	link, cut, _ := testdb.Proxy(t, primary.addr)
	_, linkPort, _ := net.SplitHostPort(link)
	replica := startRedis(t, "--replicaof", "127.0.0.1", linkPort)
	waitFor(t, 10*time.Second, "replica in sync", func() bool {
		info, err := do(t, replica.addr, "INFO", "replication").ToString()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	const master = "civic"
	sentinel := startSentinel(t, master, primary.port)
	opt := func() rueidis.ClientOption {
		return rueidis.ClientOption{InitAddress: []string{sentinel}, Sentinel: rueidis.SentinelOption{MasterSet: master}, ConnWriteTimeout: time.Second}
	}
	store, err := redisstore.New(opt(), redisstore.WithReplicaAck(1, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	keys := newKeys(t)
	epochs := sqliteEpochs(t)
	m := newManager(t, store, keys, session.WithEpochs(epochs))

	var revoked, kept []string
	for i := range 30 {
		_, tok, err := m.Create(ctx, session.Start{Subject: fmt.Sprintf("user:u%d", i%10), Method: session.MethodPassword})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i%10 == 9: // user:u9's sessions: logged out everywhere below
			revoked = append(revoked, tok)
		case i%2 == 0:
			if err := m.Logout(ctx, tok); err != nil {
				t.Fatalf("logout: %v", err)
			}
			revoked = append(revoked, tok)
		default:
			kept = append(kept, tok)
		}
	}
	time.Sleep(time.Millisecond)
	if _, err := m.LogoutEverywhere(ctx, "user:u9"); err != nil {
		t.Fatal(err)
	}
	// The last logout happens while the replica is cut off: the deletion
	// never reaches it and is not acknowledged; the revocation written to
	// the policy store first is what keeps the session ended.
	_, lagging, err := m.Create(ctx, session.Start{Subject: "user:lag", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := do(t, primary.addr, "WAIT", "1", "2000").Error(); err != nil {
		t.Fatal(err)
	}
	cut()
	time.Sleep(2 * time.Millisecond)
	if err := m.Logout(ctx, lagging); err != nil {
		t.Fatalf("logout while the replica is cut off: %v", err)
	}
	revoked = append(revoked, lagging)
	primary.stop() // SIGKILL, right after the last revocation

	failover := time.Now()
	waitFor(t, 30*time.Second, "failover", func() bool {
		addr, err := do(t, sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", master).AsStrSlice()
		return err == nil && len(addr) == 2 && addr[1] == fmt.Sprint(replica.port)
	})
	waitFor(t, 30*time.Second, "writes on the new primary", func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, _, err := m.Create(cctx, session.Start{Subject: "user:after", Method: session.MethodPassword})
		return err == nil
	})
	t.Logf("replica promoted and writable %s after the primary was killed", time.Since(failover))

	fresh, err := redisstore.New(opt())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for name, mm := range map[string]*session.Manager{"surviving process": m, "fresh process": newManager(t, fresh, keys, session.WithEpochs(epochs))} {
		for _, tok := range revoked {
			if _, err := mm.Verify(ctx, tok); !errors.Is(err, session.ErrNoSession) {
				t.Errorf("%s: a revoked session after the failover: %v", name, err)
			}
		}
		for _, tok := range kept {
			if _, err := mm.Verify(ctx, tok); err != nil {
				t.Errorf("%s: a live session after the failover: %v", name, err)
			}
		}
	}
}
