package redisstore_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/redis/rueidis"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/adapters/redisstore"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/apikey"
)

// Key children share an embedded database file with the parent and hear
// invalidations through a KeyFeed. Settings come from the environment:
//
//	APIKEY_CHILD    "1" makes TestKeyHelperProcess a child
//	APIKEY_DB       the SQLite file
//	APIKEY_ADDR     Redis
//	APIKEY_CHANNEL  the feed's channel
//	APIKEY_HASHKEY  the server key (hex)
//
// Command: "watch <key>": verify until accepted and cached, answer
// "cached", then verify every 200 µs until refused and answer
// "refused <unix ns> <kind>".
const keyChildEnv = "APIKEY_CHILD"

// TestKeyHelperProcess is not a test: it is the child process of
// TestProcessesSeeKeyRevocations.
func TestKeyHelperProcess(t *testing.T) {
	if os.Getenv(keyChildEnv) != "1" {
		t.Skip("child process of TestProcessesSeeKeyRevocations")
	}
	if err := runKeyChild(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stdout, "@@ error %v\n", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(3)
	}
	os.Exit(0)
}

func runKeyChild(in io.Reader, out io.Writer) error {
	ctx := context.Background()
	hk, err := hex.DecodeString(os.Getenv("APIKEY_HASHKEY"))
	if err != nil {
		return err
	}
	db, err := openKeyDB(os.Getenv("APIKEY_DB"))
	if err != nil {
		return err
	}
	store, err := sqlitestore.NewAPIKeyStore(db)
	if err != nil {
		return err
	}
	ps, err := memstore.New(rbac.Model{})
	if err != nil {
		return err
	}
	authz, err := iam.New(ctx, ps)
	if err != nil {
		return err
	}
	defer authz.Close()
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{os.Getenv("APIKEY_ADDR")}, DisableCache: true})
	if err != nil {
		return err
	}
	defer client.Close()
	m, err := apikey.New(store, authz, hk, apikey.WithFeed(redisstore.NewKeyFeed(client, os.Getenv("APIKEY_CHANNEL"))), apikey.WithLogger(quiet))
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
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || f[0] != "watch" {
			return fmt.Errorf("unknown command %q", sc.Text())
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := m.Verify(ctx, f[1]); err == nil && m.Health().Cached > 0 {
				break
			} else if time.Now().After(deadline) {
				return fmt.Errorf("key never accepted and cached: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
		say("cached")
		for {
			_, err := m.Verify(ctx, f[1])
			if err != nil {
				kind := "other"
				if errors.Is(err, apikey.ErrRevoked) {
					kind = "revoked"
				}
				say("refused %d %s", time.Now().UnixNano(), kind)
				break
			}
			if time.Now().After(deadline) {
				return errors.New("key never refused")
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	return sc.Err()
}

// openKeyDB opens the shared embedded database as sqlitestore.Open does,
// but without an fsync per commit (synchronous NORMAL in WAL mode): the
// test measures how fast a revocation travels, not the disk of a loaded
// machine.
func openKeyDB(path string) (*gorm.DB, error) {
	return gorm.Open(sqlite.Open(path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"),
		&gorm.Config{Logger: logger.Discard})
}

func startKeyChildren(t *testing.T, n int, env ...string) []*child {
	t.Helper()
	cs := make([]*child, n)
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKeyHelperProcess$", "-test.count=1", "-test.timeout=5m")
		cmd.Env = append(append(os.Environ(), keyChildEnv+"=1"), env...)
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

// TestProcessesSeeKeyRevocations: three OS processes hold an API key in
// their caches; the test process revokes it; each child refuses it.
// Reports p50/p99 from the start of the Revoke call to each child's first
// refusal; the target is p99 under 100 ms.
func TestProcessesSeeKeyRevocations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := testdb.RedisAddr(t)
	channel := testdb.Name("iamtest-keys")
	path := filepath.Join(t.TempDir(), "keys.db")
	db, err := openKeyDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		t.Cleanup(func() { sqlDB.Close() })
	}
	if err := sqlitestore.MigrateAPIKeys(ctx, db); err != nil {
		t.Fatal(err)
	}
	store, _ := sqlitestore.NewAPIKeyStore(db)
	hk := make([]byte, 32)
	rand.Read(hk)
	m, err := apikey.New(store, keyPolicy(t), hk, apikey.WithFeed(redisstore.NewKeyFeed(keyFeedClient(t, addr), channel)), apikey.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	waitConnected(t, m)
	if _, err := m.CreateAccount(ctx, apikey.Account{ID: "sync", Owner: "user:a", Department: "dept:building"}); err != nil {
		t.Fatal(err)
	}
	cs := startKeyChildren(t, 3, "APIKEY_DB="+path, "APIKEY_ADDR="+addr, "APIKEY_CHANNEL="+channel,
		"APIKEY_HASHKEY="+hex.EncodeToString(hk))
	rounds := 40
	if raceEnabled {
		rounds = 12
	}
	var lat, calls []time.Duration
	for range rounds {
		c, err := m.CreateKey(ctx, "sync", apikey.KeySpec{Name: "k"})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the creation's own invalidation reaches the children first
		for _, ch := range cs {
			fmt.Fprintf(ch.in, "watch %s\n", c.Secret)
			ch.expect(t, 15*time.Second, "cached")
		}
		start := time.Now().UnixNano()
		if err := m.Revoke(ctx, c.Key.ID, "test"); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, time.Duration(time.Now().UnixNano()-start))
		for _, ch := range cs {
			f := ch.expect(t, 15*time.Second, "refused")
			if f[1] != "revoked" {
				t.Errorf("refused as %s, want revoked", f[1])
			}
			at, _ := strconv.ParseInt(f[0], 10, 64)
			lat = append(lat, time.Duration(max(at-start, 0)))
		}
	}
	slices.Sort(lat)
	slices.Sort(calls)
	p50, p99 := quantile(lat, 0.5), quantile(lat, 0.99)
	t.Logf("key revocation reaching %d processes, %d samples: p50 %v, p99 %v, max %v (the Revoke call itself: p50 %v, p99 %v)",
		len(cs), len(lat), p50, p99, lat[len(lat)-1], quantile(calls, 0.5), quantile(calls, 0.99))
	// The target (p99 < 100 ms) is a measurement, recorded in BENCHMARKS.md;
	// on a loaded machine (the race detector, parallel packages) the
	// scheduler alone can exceed it, so the test fails only on what no load
	// excuses.
	if p99 > 100*time.Millisecond {
		t.Logf("p99 %v: target < 100 ms missed on this run", p99)
	}
	if worst := lat[len(lat)-1]; worst > 2*time.Second {
		t.Errorf("slowest refusal %v after the revocation", worst)
	}
}
