package redisstore_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/civic-platform/security/adapters/redisstore"
	"github.com/civic-platform/security/session"
)

// The parent talks to each child process over stdin and stdout: one
// command per line in, one "@@ "-prefixed answer per line out.
//
// Child settings come from the environment:
//
//	REDISSTORE_CHILD   "1" makes TestHelperProcess a child
//	REDISSTORE_ADDR    Redis
//	REDISSTORE_PREFIX  the key prefix
//	REDISSTORE_PUBKEY  the ed25519 public key (hex) of kid k1
//
// Commands:
//
//	watch <token>   verify until accepted (now cached); answer "cached";
//	                then verify every 200 µs until refused; answer
//	                "refused <unix ns> <error kind>"
const childEnv = "REDISSTORE_CHILD"

// TestHelperProcess is not a test: it is the child process of the
// multi-process tests, and returns at once otherwise.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("child process of the multi-process tests")
	}
	if err := runChild(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stdout, "@@ error %v\n", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(3)
	}
	os.Exit(0)
}

func runChild(in io.Reader, out io.Writer) error {
	ctx := context.Background()
	pub, err := hex.DecodeString(os.Getenv("REDISSTORE_PUBKEY"))
	if err != nil {
		return err
	}
	keys, err := session.NewKeyring(session.SigningKey{ID: "k1", Alg: session.EdDSA, Public: ed25519.PublicKey(pub)})
	if err != nil {
		return err
	}
	store, err := redisstore.New(rueidis.ClientOption{InitAddress: []string{os.Getenv("REDISSTORE_ADDR")}},
		redisstore.WithPrefix(os.Getenv("REDISSTORE_PREFIX")))
	if err != nil {
		return err
	}
	defer store.Close()
	m, err := session.New(store, keys, session.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer m.Close()
	for !m.Health().Connected {
		time.Sleep(time.Millisecond)
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, "@@ "+format+"\n", args...) }
	say("ready")
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 8192), 8192)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || f[0] != "watch" {
			return fmt.Errorf("unknown command %q", sc.Text())
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := m.Verify(ctx, f[1]); err == nil {
				break
			} else if time.Now().After(deadline) {
				return fmt.Errorf("token never accepted: %w", err)
			}
			time.Sleep(time.Millisecond)
		}
		if m.Health().Cached == 0 {
			return errors.New("verified but not cached")
		}
		say("cached")
		for {
			_, err := m.Verify(ctx, f[1])
			if err != nil {
				kind := "other"
				if errors.Is(err, session.ErrNoSession) {
					kind = "no-session"
				}
				say("refused %d %s", time.Now().UnixNano(), kind)
				break
			}
			if time.Now().After(deadline) {
				return errors.New("token never refused")
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	return sc.Err()
}

type child struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan []string
}

func startChildren(t *testing.T, n int, env ...string) []*child {
	t.Helper()
	cs := make([]*child, n)
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=5m")
		cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c := &child{cmd: cmd, in: in, lines: make(chan []string, 64)}
		go func() {
			defer close(c.lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(sc.Text(), "@@ "); ok {
					c.lines <- strings.Fields(rest)
				}
			}
		}()
		t.Cleanup(func() {
			in.Close()
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
		cs[i] = c
	}
	for _, c := range cs {
		c.expect(t, 30*time.Second, "ready")
	}
	return cs
}

func (c *child) expect(t *testing.T, within time.Duration, verb string) []string {
	t.Helper()
	select {
	case f, ok := <-c.lines:
		if !ok {
			t.Fatalf("child exited: %v", c.cmd.Wait())
		}
		if len(f) == 0 || f[0] != verb {
			t.Fatalf("child said %q, want %s", f, verb)
		}
		return f[1:]
	case <-time.After(within):
		t.Fatalf("child: no %q within %s", verb, within)
	}
	return nil
}

func quantile(ds []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(ds))+0.999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// TestProcessesSeeRevocations: three OS processes hold a session in their
// caches; the test process logs it out (or logs its subject out
// everywhere); each child refuses it within the bound. Reports p50/p99 of
// the time from the start of the logout call to the child's first refusal.
func TestProcessesSeeRevocations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, prefix := sharedRedis(t)
	key, err := session.GenerateKey(session.EdDSA, "k1")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := session.NewKeyring(key)
	m := newManager(t, newStore(t, addr, prefix), keys)
	cs := startChildren(t, 3, "REDISSTORE_ADDR="+addr, "REDISSTORE_PREFIX="+prefix,
		"REDISSTORE_PUBKEY="+hex.EncodeToString(key.Private.Public().(ed25519.PublicKey)))
	rounds := 40
	if raceEnabled {
		rounds = 12
	}
	var lat []time.Duration
	for i := range rounds {
		sub := fmt.Sprintf("user:p%d", i)
		_, tok, err := m.Create(ctx, session.Start{Subject: sub, Method: session.MethodPassword})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			fmt.Fprintf(c.in, "watch %s\n", tok)
			c.expect(t, 15*time.Second, "cached")
		}
		start := time.Now().UnixNano() // the children may refuse before the call returns
		if i%2 == 0 {
			err = m.Logout(ctx, tok)
		} else {
			_, err = m.LogoutEverywhere(ctx, sub)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			f := c.expect(t, 15*time.Second, "refused")
			if f[1] != "no-session" {
				t.Errorf("refused as %s, want no-session", f[1])
			}
			at, _ := strconv.ParseInt(f[0], 10, 64)
			lat = append(lat, time.Duration(max(at-start, 0)))
		}
	}
	slices.Sort(lat)
	p99 := quantile(lat, 0.99)
	t.Logf("revocation reached another process's cache over %d refusals: p50 %s, p99 %s, max %s", len(lat), quantile(lat, 0.5), p99, lat[len(lat)-1])
	// The target (p99 < 100 ms) is a measurement, recorded in BENCHMARKS.md;
	// on a shared, overloaded machine the scheduler alone can exceed it, so
	// the test fails only on what no load excuses.
	if p99 > 100*time.Millisecond {
		t.Logf("p99 %s: target < 100 ms missed on this run", p99)
	}
	if worst := lat[len(lat)-1]; worst > 2*time.Second {
		t.Errorf("slowest refusal %s after the logout", worst)
	}
}
