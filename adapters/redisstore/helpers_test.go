package redisstore_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
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

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newStore returns a Store on addr under a fresh key prefix, removed when
// the test ends.
func newStore(t testing.TB, addr, prefix string, opts ...redisstore.Option) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(rueidis.ClientOption{InitAddress: []string{addr}, ConnWriteTimeout: 2 * time.Second},
		append([]redisstore.Option{redisstore.WithPrefix(prefix)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dropPrefix(s.Client(), prefix)
		s.Close()
	})
	return s
}

// dropPrefix deletes every key under prefix.
func dropPrefix(c rueidis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return
		}
		if len(e.Elements) > 0 {
			c.Do(ctx, c.B().Del().Key(e.Elements...).Build())
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}

// sharedRedis is the machine's Redis with a fresh prefix for the test.
func sharedRedis(t testing.TB) (addr, prefix string) {
	t.Helper()
	return testdb.RedisAddr(t), testdb.Name("iamtest") + ":"
}

func newKeys(t testing.TB) *session.Keyring {
	t.Helper()
	k, err := session.GenerateKey(session.EdDSA, "k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := session.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func newManager(t testing.TB, store session.Store, keys *session.Keyring, opts ...session.Option) *session.Manager {
	t.Helper()
	m, err := session.New(store, keys, append([]session.Option{session.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	waitHealthy(t, m)
	return m
}

func waitHealthy(t testing.TB, m *session.Manager) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !m.Health().Connected {
		if time.Now().After(deadline) {
			t.Fatalf("manager not connected: %+v", m.Health())
		}
		time.Sleep(time.Millisecond)
	}
}

// redisServer is a redis-server process this test started.
type redisServer struct {
	addr string
	port int
	dir  string
	cmd  *exec.Cmd
}

// startRedis starts a private redis-server on a free loopback port in a
// temporary directory, stopped when the test ends. It skips the test if
// redis-server is not installed, unless IAM_REQUIRE_SERVICES=1.
func startRedis(t testing.TB, args ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not installed (apt-get install redis-server)"
		if testdb.Required() {
			t.Fatal(msg + " (IAM_REQUIRE_SERVICES=1)")
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	all := append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log")}, args...)
	cmd := exec.Command(bin, all...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &redisServer{addr: fmt.Sprintf("127.0.0.1:%d", port), port: port, dir: dir, cmd: cmd}
	t.Cleanup(r.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", r.addr, 100*time.Millisecond); err == nil {
			fmt.Fprintf(c, "PING\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return r
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server on %s did not start: %s", r.addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (as a crash would) and waits for it.
func (r *redisServer) stop() {
	if r.cmd.ProcessState == nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// do runs one command on a fresh connection to addr.
func do(t testing.TB, addr string, args ...string) rueidis.RedisResult {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Do(ctx, c.B().Arbitrary(args...).Build())
}
