package pgnotify_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/pgnotify"
	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// The parent talks to each child process over its stdin and stdout: one
// command per line in, one "@@ "-prefixed answer per line out. Everything
// else a child prints (test framework output, logs) is ignored.
//
// Child settings come from the environment:
//
//	PGNOTIFY_CHILD     "1" makes TestHelperProcess a child
//	PGNOTIFY_DSN       the database (perhaps through a proxy)
//	PGNOTIFY_CHANNEL   the channel
//	PGNOTIFY_APP       the listener's application_name
//	PGNOTIFY_STALE     iam.WithMaxStaleness (a Go duration; "0": none)
//	PGNOTIFY_POLL      the listener's poll interval ("0": none)
//	PGNOTIFY_BACKOFF   the listener's first reconnection delay
//
// Commands:
//
//	expect <i> allow|deny   wait until Check(user i) gives that answer;
//	                        answer "got <i> <unix ns> <revision>"
//	grant <n>               grant n fresh users (one Apply each) through the
//	                        Authorizer; answer "wrote <rev> <rev> ..."
//	sum <rev>               WaitForRevision(rev), then answer "sum <rev> <hex>",
//	                        a hash of everyone who holds sin.view in ward:7
//	probe <ms>              check user 1 every 2 ms until a check is refused
//	                        as stale; answer "stale <unix ns> <allowed checks>"
//	health                  answer "health <rev> <watcher> <stale> <connections>"
//	recover <i> <rev> <ms>  wait until checks are answered again at revision
//	                        rev or later and deny user i; answer "recovered <unix ns>"
const childEnv = "PGNOTIFY_CHILD"

// TestHelperProcess is not a test: it is the child process of the
// multi-process tests and benchmarks, and returns at once otherwise.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("child process of the multi-process tests")
	}
	if err := runChild(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stdout, "@@ error %v\n", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(3)
	}
	os.Exit(0) // skip the framework's output
}

func envDuration(name string) time.Duration {
	d, err := time.ParseDuration(os.Getenv(name))
	if err != nil {
		return 0
	}
	return d
}

func runChild(in io.Reader, out io.Writer) error {
	ctx := context.Background()
	dsn := os.Getenv("PGNOTIFY_DSN")
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	store, err := pgstore.New(db)
	if err != nil {
		return err
	}
	backoff := envDuration("PGNOTIFY_BACKOFF")
	l, err := pgnotify.New(dsn,
		pgnotify.WithChannel(os.Getenv("PGNOTIFY_CHANNEL")),
		pgnotify.WithApplicationName(os.Getenv("PGNOTIFY_APP")),
		pgnotify.WithPollInterval(envDuration("PGNOTIFY_POLL")),
		pgnotify.WithBackoff(backoff, 4*backoff),
		pgnotify.WithLogger(quietLog))
	if err != nil {
		return err
	}
	a, err := iam.New(ctx, store, iam.WithNotifier(l), iam.WithMaxStaleness(envDuration("PGNOTIFY_STALE")), iam.WithLogger(quietLog))
	if err != nil {
		return err
	}
	admin := iam.NewAdmin(a, store)
	defer a.Close()
	for !l.Connected() { // ready means listening
		time.Sleep(time.Millisecond)
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, "@@ "+format+"\n", args...) }
	say("ready %d", a.Revision())

	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		arg := func(i int) int64 {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			return n
		}
		switch f[0] {
		case "expect":
			i, want := int(arg(1)), f[2] == "allow"
			deadline := time.Now().Add(10 * time.Second)
			for {
				d, err := a.Check(ctx, user(i), sinView, ward7)
				if err == nil && d.Allowed == want {
					say("got %d %d %d", i, time.Now().UnixNano(), d.Revision)
					break
				}
				if time.Now().After(deadline) {
					say("timeout %d %v %+v", i, err, d)
					break
				}
				time.Sleep(50 * time.Microsecond)
			}
		case "grant":
			var revs []string
			for range arg(1) {
				sub := rbac.Subject(fmt.Sprintf("user:w%d", time.Now().UnixNano()))
				rev, err := admin.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: sub, Role: "clerk", Scope: "ward:7"}}})
				if err != nil {
					return err
				}
				revs = append(revs, strconv.FormatInt(rev, 10))
			}
			say("wrote %s", strings.Join(revs, " "))
		case "sum":
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := a.WaitForRevision(wctx, arg(1))
			cancel()
			if err != nil {
				return err
			}
			sum, err := checksum(ctx, a)
			if err != nil {
				return err
			}
			say("sum %d %s", a.Revision(), sum)
		case "probe":
			deadline := time.Now().Add(time.Duration(arg(1)) * time.Millisecond)
			allowed := 0
			for {
				d, err := a.Check(ctx, user(1), sinView, ward7)
				if errors.Is(err, iam.ErrStale) {
					if d.Allowed {
						return errors.New("a stale decision allowed")
					}
					say("stale %d %d", time.Now().UnixNano(), allowed)
					break
				}
				if err != nil {
					return err
				}
				if d.Allowed {
					allowed++
				}
				if time.Now().After(deadline) {
					say("fresh %d", allowed)
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
		case "health":
			h := a.Health()
			say("health %d %s %v %d", h.Revision, h.Watcher, h.Stale, l.Connections())
		case "recover":
			i, rev := int(arg(1)), arg(2)
			deadline := time.Now().Add(time.Duration(arg(3)) * time.Millisecond)
			for {
				d, err := a.Check(ctx, user(i), sinView, ward7)
				if err == nil && !d.Allowed && d.Revision >= rev {
					say("recovered %d", time.Now().UnixNano())
					break
				}
				if time.Now().After(deadline) {
					say("timeout %v %+v", err, d)
					break
				}
				time.Sleep(time.Millisecond)
			}
		default:
			return fmt.Errorf("unknown command %q", f[0])
		}
	}
	return sc.Err()
}

// checksum hashes the revision and everyone who holds sin.view in ward:7:
// two processes with the same policy give the same sum.
func checksum(ctx context.Context, a *iam.Authorizer) (string, error) {
	acc, err := a.WhoCan(ctx, sinView, ward7)
	if err != nil {
		return "", err
	}
	var subs []string
	for _, h := range acc.Subjects {
		subs = append(subs, string(h.Subject))
	}
	slices.Sort(subs)
	s := sha256.Sum256([]byte(strings.Join(subs, "\n")))
	return hex.EncodeToString(s[:8]), nil
}

// child is a running child process.
type child struct {
	name  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan []string
	errs  *bytes.Buffer
}

// childConfig is what a child is started with.
type childConfig struct {
	dsn     string
	channel string
	app     string
	stale   time.Duration
	poll    time.Duration
	backoff time.Duration
}

// startChildren starts n children and waits until every one is ready.
// They are stopped (stdin closed, then killed) when the test ends.
func startChildren(tb testing.TB, n int, cfg func(i int) childConfig) []*child {
	tb.Helper()
	cs := make([]*child, n)
	for i := range n {
		c := cfg(i)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=5m")
		cmd.Env = append(os.Environ(), childEnv+"=1",
			"PGNOTIFY_DSN="+c.dsn, "PGNOTIFY_CHANNEL="+c.channel, "PGNOTIFY_APP="+c.app,
			"PGNOTIFY_STALE="+c.stale.String(), "PGNOTIFY_POLL="+c.poll.String(), "PGNOTIFY_BACKOFF="+c.backoff.String())
		in, err := cmd.StdinPipe()
		if err != nil {
			tb.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			tb.Fatal(err)
		}
		ch := &child{name: c.app, cmd: cmd, in: in, lines: make(chan []string, 1024), errs: &bytes.Buffer{}}
		cmd.Stderr = &lockedWriter{w: ch.errs}
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		go func() {
			defer close(ch.lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(sc.Text(), "@@ "); ok {
					ch.lines <- strings.Fields(rest)
				}
			}
		}()
		tb.Cleanup(func() {
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
		cs[i] = ch
	}
	for _, c := range cs {
		c.expect(tb, 30*time.Second, "ready")
	}
	return cs
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (c *child) send(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if _, err := fmt.Fprintf(c.in, format+"\n", args...); err != nil {
		tb.Fatalf("%s: send: %v", c.name, err)
	}
}

// expect waits for the child's next answer, which must start with verb.
func (c *child) expect(tb testing.TB, within time.Duration, verb string) []string {
	tb.Helper()
	select {
	case f, ok := <-c.lines:
		if !ok {
			tb.Fatalf("%s exited: %v", c.name, c.cmd.Wait())
		}
		if len(f) == 0 || f[0] != verb {
			tb.Fatalf("%s said %q, want %s", c.name, f, verb)
		}
		return f[1:]
	case <-time.After(within):
		tb.Fatalf("%s: no %q within %s", c.name, verb, within)
	}
	return nil
}

func atoi(tb testing.TB, s string) int64 {
	tb.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// quantile returns the q-quantile of sorted ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(q*float64(len(ds))+0.999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// propagate makes one change with the store, after telling every child
// what to expect of user i, and returns how long after the commit each
// child first gave the new answer.
func propagate(tb testing.TB, store *pgstore.Store, cs []*child, i int, c rbac.Change, want string) []time.Duration {
	tb.Helper()
	for _, ch := range cs {
		ch.send(tb, "expect %d %s", i, want)
	}
	if _, err := store.Apply(context.Background(), c); err != nil {
		tb.Fatal(err)
	}
	committed := time.Now().UnixNano()
	out := make([]time.Duration, len(cs))
	for k, ch := range cs {
		f := ch.expect(tb, 15*time.Second, "got")
		out[k] = time.Duration(max(atoi(tb, f[1])-committed, 0))
	}
	return out
}

// TestProcessesDenyRevocations: three processes share one database; one
// (the test) revokes, the others deny within the bound. Then the LISTEN
// connection of one child is killed and revocations are made while it is
// down (its backoff keeps it down; the Listener's own poll is off, and the
// Authorizer's revision poll runs while the Listener is down): it misses
// none, and reconnects.
func TestProcessesDenyRevocations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	const users = 60
	if _, err := e.store.Replace(ctx, staff(users)); err != nil {
		t.Fatal(err)
	}
	cs := startChildren(t, 3, func(i int) childConfig {
		return childConfig{dsn: e.dsn, channel: e.channel, app: fmt.Sprintf("%s-child%d", e.channel, i), backoff: 300 * time.Millisecond}
	})

	rounds := 40
	if raceEnabled {
		rounds = 15
	}
	var lat []time.Duration
	for i := range rounds {
		lat = append(lat, propagate(t, e.store, cs, i, revoke(i), "deny")...)
	}
	slices.Sort(lat)
	t.Logf("propagation over %d denials: p50 %s, p99 %s, max %s", len(lat), quantile(lat, 0.5), quantile(lat, 0.99), lat[len(lat)-1])
	if worst := lat[len(lat)-1]; worst > 2*time.Second {
		t.Errorf("slowest denial %s after the commit", worst)
	}

	// Kill child 0's LISTEN connection; revoke while it is down.
	if n := terminate(t, e.db, cs[0].name); n != 1 {
		t.Fatalf("terminated %d backends named %s", n, cs[0].name)
	}
	revs := map[int]int64{}
	for i := rounds; i < rounds+5; i++ {
		rev, err := e.store.Apply(ctx, revoke(i))
		if err != nil {
			t.Fatal(err)
		}
		revs[i] = rev
	}
	for i := rounds; i < rounds+5; i++ {
		for _, c := range cs {
			c.send(t, "expect %d deny", i)
			if f := c.expect(t, 15*time.Second, "got"); atoi(t, f[2]) < revs[i] {
				t.Errorf("%s denied user %d at revision %s, before its revocation at %d", c.name, i, f[2], revs[i])
			}
		}
	}
	// The Authorizer's poll may have brought child 0 up to date before its
	// Listener noticed the kill (a terminated backend exits when the
	// server gets to it) or reconnected: wait for the second connection,
	// not merely for "connected", which the first one also says.
	var f []string
	for deadline := time.Now().Add(20 * time.Second); ; {
		cs[0].send(t, "health")
		f = cs[0].expect(t, 5*time.Second, "health")
		if (f[1] == string(iam.WatcherConnected) && atoi(t, f[3]) >= 2) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if f[1] != string(iam.WatcherConnected) || atoi(t, f[3]) < 2 {
		t.Errorf("child 0 after the kill: %v; want connected on its second connection", f)
	}
	// Everyone still allows those never revoked.
	for _, c := range cs {
		c.send(t, "expect %d allow", users-1)
		c.expect(t, 5*time.Second, "got")
	}
}

// TestProcessesWriteConcurrently: three processes write at once. The
// revisions they get back are distinct, increase in each process, and
// leave no gap; no write is lost; every process converges on the same
// policy.
func TestProcessesWriteConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	base, err := e.store.Replace(ctx, staff(5))
	if err != nil {
		t.Fatal(err)
	}
	cs := startChildren(t, 3, func(i int) childConfig {
		return childConfig{dsn: e.dsn, channel: e.channel, app: fmt.Sprintf("%s-writer%d", e.channel, i), stale: 5 * time.Second, backoff: 50 * time.Millisecond}
	})
	writes := 25
	if raceEnabled {
		writes = 10
	}
	for _, c := range cs {
		c.send(t, "grant %d", writes)
	}
	var all []int64
	for _, c := range cs {
		f := c.expect(t, 60*time.Second, "wrote")
		var prev int64
		for _, s := range f {
			r := atoi(t, s)
			if r <= prev {
				t.Errorf("%s got revision %d after %d", c.name, r, prev)
			}
			prev = r
			all = append(all, r)
		}
	}
	slices.Sort(all)
	for k, r := range all {
		if want := base + 1 + int64(k); r != want {
			t.Fatalf("revisions %v: want %d..%d, each once", all, base+1, base+int64(len(all)))
		}
	}
	final := all[len(all)-1]
	m, rev, err := e.store.LoadPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rev != final || len(m.Grants) != 5+3*writes {
		t.Fatalf("stored revision %d with %d grants; want %d with %d", rev, len(m.Grants), final, 5+3*writes)
	}
	a, err := iam.New(ctx, e.store, iam.WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	want, err := checksum(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		c.send(t, "sum %d", final)
		if f := c.expect(t, 15*time.Second, "sum"); atoi(t, f[0]) != final || f[1] != want {
			t.Errorf("%s: revision %s sum %s; want %d %s", c.name, f[0], f[1], final, want)
		}
	}
}

// TestProcessesSurviveDatabaseCut: two processes reach PostgreSQL through
// a proxy that the test severs. Checks continue from the snapshot, then
// are refused as stale once the bound has passed; a write through the
// proxy fails with an error and writes nothing; a revocation made directly
// meanwhile is picked up after the proxy is restored, and checks are
// answered again, without a restart.
func TestProcessesSurviveDatabaseCut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	if _, err := e.store.Replace(ctx, staff(10)); err != nil {
		t.Fatal(err)
	}
	proxied, sever, restore := proxyDSN(t, e.dsn)
	const bound = time.Second
	cs := startChildren(t, 2, func(i int) childConfig {
		return childConfig{dsn: proxied, channel: e.channel, app: fmt.Sprintf("%s-cut%d", e.channel, i), stale: bound, poll: 200 * time.Millisecond, backoff: 50 * time.Millisecond}
	})
	viaProxy := newStore(t, open(t, proxied))
	propagate(t, e.store, cs, 0, revoke(0), "deny")

	before, err := e.store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sever()
	cut := time.Now()
	for _, c := range cs {
		c.send(t, "probe 10000")
	}
	// A write through the severed proxy fails; nothing is written.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, werr := viaProxy.Apply(wctx, revoke(5))
	cancel()
	if werr == nil {
		t.Fatal("a write through the severed proxy succeeded")
	}
	t.Logf("write while cut off: %v", werr)
	// A revocation the children cannot see yet.
	rev, err := e.store.Apply(ctx, revoke(3))
	if err != nil {
		t.Fatal(err)
	}
	if rev != before+1 {
		t.Errorf("revision %d after the failed write and one good one; want %d: the failed write left a trace", rev, before+1)
	}
	for _, c := range cs {
		f := c.expect(t, 15*time.Second, "stale")
		after := time.Duration(atoi(t, f[0]) - cut.UnixNano())
		t.Logf("%s: %s checks allowed from the snapshot, stale after %s", c.name, f[1], after)
		if atoi(t, f[1]) == 0 {
			t.Errorf("%s: no check answered from the snapshot after the cut", c.name)
		}
		if after < bound/2 || after > bound+time.Second {
			t.Errorf("%s: stale %s after the cut; bound %s", c.name, after, bound)
		}
		c.send(t, "health")
		if h := c.expect(t, 5*time.Second, "health"); h[1] != string(iam.WatcherReconnecting) || h[2] != "true" {
			t.Errorf("%s: health while cut off %v", c.name, h)
		}
	}

	restore()
	restored := time.Now()
	for _, c := range cs {
		c.send(t, "recover 3 %d 10000", rev)
		f := c.expect(t, 15*time.Second, "recovered")
		t.Logf("%s: answering again at revision >= %d %s after the restore", c.name, rev, time.Duration(atoi(t, f[0])-restored.UnixNano()))
		// Checks may recover through the confirmation poll before the
		// listener's backoff has elapsed; it reconnects soon after.
		deadline := time.Now().Add(10 * time.Second)
		for {
			c.send(t, "health")
			h := c.expect(t, 5*time.Second, "health")
			if h[1] == string(iam.WatcherConnected) && h[2] == "false" && atoi(t, h[3]) >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: health after the restore %v; want connected (again), not stale", c.name, h)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := viaProxy.Apply(wctx, revoke(5)); err != nil {
		t.Errorf("write through the restored proxy: %v", err)
	}
}
