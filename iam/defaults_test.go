package iam_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// openSQLite opens the SQLite policy file at path through a pool of its
// own (another process, as far as the Authorizer can tell), migrated.
func openSQLite(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := sqlitestore.Migrate(context.Background(), s.DB()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDefaultPollSeesOtherProcesses: iam.New over a store with no option
// at all picks up a change that another process commits, through the
// revision poll, within a few poll intervals.
func TestDefaultPollSeesOtherProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "policy.db")
	writer := openSQLite(t, path)
	if _, err := writer.Replace(ctx, freshModel(true)); err != nil {
		t.Fatal(err)
	}
	a, err := iam.New(ctx, openSQLite(t, path))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if h := a.Health(); !h.RevisionSource || h.PollInterval != iam.DefaultPollInterval || h.MaxStaleness != iam.DefaultMaxStaleness {
		t.Fatalf("defaults over a store: %+v", h)
	}
	if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || d.Allowed {
		t.Fatalf("before the grant: %+v, %v", d, err)
	}
	rev, err := writer.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: annSub, Role: "clerk", Scope: ward7}}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	deadline := start.Add(10 * iam.DefaultPollInterval) // generous: a loaded machine, the race detector
	for a.Revision() < rev {
		if time.Now().After(deadline) {
			t.Fatalf("after %s the Authorizer is at revision %d, want %d: the default poll did not pick up the change", time.Since(start), a.Revision(), rev)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || !d.Allowed {
		t.Fatalf("after the grant: %+v, %v", d, err)
	}
	t.Logf("picked up after %s", time.Since(start))
}

// TestDefaultStalenessBound: with no option, an Authorizer whose store
// stops answering serves its snapshot within DefaultMaxStaleness and
// refuses with ErrStale past it, and Health says how far behind it is.
func TestDefaultStalenessBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newManualClock(t0)
	src := &revSource{m: freshModel(false), rev: 3}
	a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	src.fail(errors.New("connection refused"))

	clk.advance(iam.DefaultMaxStaleness - time.Second)
	if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || !d.Allowed {
		t.Fatalf("within the default bound: %+v, %v", d, err)
	}
	h := a.Health()
	if h.Stale || h.Behind != iam.DefaultMaxStaleness-time.Second || !h.LastConfirmed.Equal(t0) || h.MaxStaleness != iam.DefaultMaxStaleness {
		t.Fatalf("within the bound: %+v", h)
	}

	clk.advance(2 * time.Second)
	d, err := a.Check(ctx, annSub, readPerm, ward7)
	var se *iam.StaleError
	if !errors.Is(err, iam.ErrStale) || !errors.As(err, &se) || d.Allowed {
		t.Fatalf("past the default bound with the store down: %+v, %v; want ErrStale", d, err)
	}
	if se.MaxStaleness != iam.DefaultMaxStaleness || se.Revision != 3 {
		t.Errorf("StaleError: %+v", se)
	}
	if err := a.Require(ctx, annSub, readPerm, ward7); !errors.Is(err, iam.ErrStale) {
		t.Errorf("Require past the bound: %v", err)
	}
	h = a.Health()
	if !h.Stale || h.Behind != iam.DefaultMaxStaleness+time.Second || h.LastError == nil {
		t.Errorf("past the bound: %+v", h)
	}

	// The store answers again: the next decision confirms and goes ahead.
	src.set(freshModel(false), 3, nil)
	time.Sleep(300 * time.Millisecond) // past the retry pause of the last failed confirmation
	if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || !d.Allowed {
		t.Fatalf("store back: %+v, %v", d, err)
	}
	if h := a.Health(); h.Stale || h.Behind != 0 || !h.LastConfirmed.Equal(clk.now()) {
		t.Errorf("store back: %+v", h)
	}
}

// TestDecisionConfirmsAfterClockJump: a decision that finds the deadline
// passed (the clock jumped ahead of the poll) reads the revision itself
// and goes ahead when the store confirms, with one small read and no load.
func TestDecisionConfirmsAfterClockJump(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newManualClock(t0)
	src := &revSource{m: freshModel(false), rev: 3}
	// A poll and a bound far longer than the test, so that only the
	// decision reads the revision.
	a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now), iam.WithPollInterval(time.Hour), iam.WithMaxStaleness(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	loads, revs := src.loads.Load(), src.revs.Load()
	clk.advance(24 * time.Hour)
	if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || !d.Allowed {
		t.Fatalf("after the jump, store up: %+v, %v", d, err)
	}
	if got := src.revs.Load() - revs; got != 1 {
		t.Errorf("%d revision reads, want 1", got)
	}
	if got := src.loads.Load() - loads; got != 0 {
		t.Errorf("%d loads, want none", got)
	}
	if h := a.Health(); !h.LastConfirmed.Equal(clk.now()) || h.Stale {
		t.Errorf("Health: %+v", h)
	}

	// The store moved on while the clock jumped: the snapshot is not
	// current, so the decision is refused and a reload is asked for.
	src.set(freshModel(true), 4, nil)
	clk.advance(24 * time.Hour)
	if _, err := a.Check(ctx, annSub, readPerm, ward7); !errors.Is(err, iam.ErrStale) {
		t.Fatalf("store moved on: %v; want ErrStale", err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.WaitForRevision(waitCtx, 4); err != nil {
		t.Fatal(err)
	}
	if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || d.Allowed {
		t.Fatalf("after the reload ann's grant is gone: %+v, %v", d, err)
	}
}

// TestDisableDefaults: NoPoll turns the poll off and NoStalenessBound the
// bound; zero keeps the defaults.
func TestDisableDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		opts      []iam.Option
		poll, max time.Duration
	}{
		{"defaults", nil, iam.DefaultPollInterval, iam.DefaultMaxStaleness},
		{"zero keeps the defaults", []iam.Option{iam.WithPollInterval(0), iam.WithMaxStaleness(0)}, iam.DefaultPollInterval, iam.DefaultMaxStaleness},
		{"set", []iam.Option{iam.WithPollInterval(2 * time.Second), iam.WithMaxStaleness(time.Minute)}, 2 * time.Second, time.Minute},
		{"NoPoll", []iam.Option{iam.WithPollInterval(iam.NoPoll)}, 0, iam.DefaultMaxStaleness},
		{"NoStalenessBound", []iam.Option{iam.WithMaxStaleness(iam.NoStalenessBound)}, iam.DefaultPollInterval, 0},
		{"both off", []iam.Option{iam.WithPollInterval(iam.NoPoll), iam.WithMaxStaleness(iam.NoStalenessBound)}, 0, 0},
		{"set then off", []iam.Option{iam.WithMaxStaleness(time.Minute), iam.WithMaxStaleness(-time.Second)}, iam.DefaultPollInterval, 0},
	} {
		src := &revSource{m: freshModel(false), rev: 1}
		a, err := iam.New(ctx, src, append([]iam.Option{quiet}, tc.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		h := a.Health()
		a.Close()
		if h.PollInterval != tc.poll || h.MaxStaleness != tc.max || !h.RevisionSource {
			t.Errorf("%s: poll %s, bound %s; want %s, %s", tc.name, h.PollInterval, h.MaxStaleness, tc.poll, tc.max)
		}
	}

	// Both off: nothing reads the store in the background.
	src := &revSource{m: freshModel(false), rev: 1}
	a, err := iam.New(ctx, src, quiet, iam.WithPollInterval(iam.NoPoll), iam.WithMaxStaleness(iam.NoStalenessBound))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	revs, loads := src.revs.Load(), src.loads.Load()
	time.Sleep(2 * time.Second)
	if r, l := src.revs.Load()-revs, src.loads.Load()-loads; r != 0 || l != 0 {
		t.Errorf("with the poll and the bound off: %d revision reads and %d loads in 2 s", r, l)
	}
}

// connNotifier is a Notifier whose Watch runs until ctx ends and which
// reports the connection state it is given.
type connNotifier struct{ up atomic.Bool }

func (n *connNotifier) Watch(ctx context.Context, _ func()) error {
	<-ctx.Done()
	return ctx.Err()
}
func (n *connNotifier) Connected() bool { return n.up.Load() }

// TestNotifierReplacesPoll: while a Notifier is connected the Authorizer
// does not poll (it confirms every quarter of the bound only); while it is
// down the poll runs at the poll interval.
func TestNotifierReplacesPoll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const poll = 100 * time.Millisecond
	const window = 2 * time.Second
	count := func(n iam.Notifier) int64 {
		src := &revSource{m: freshModel(false), rev: 1}
		a, err := iam.New(ctx, src, quiet, iam.WithPollInterval(poll), iam.WithNotifier(n))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		before := src.revs.Load()
		time.Sleep(window)
		return src.revs.Load() - before
	}
	up := &connNotifier{}
	up.up.Store(true)
	if n := count(up); n != 0 {
		t.Errorf("connected Notifier: %d revision reads in %s, want none (the bound's quarter is 7.5 s)", n, window)
	}
	if n := count(&connNotifier{}); n < 3 {
		t.Errorf("disconnected Notifier: %d revision reads in %s at a %s poll, want the poll to run", n, window, poll)
	}
	if n := count(nil); n < 3 {
		t.Errorf("no Notifier: %d revision reads in %s at a %s poll", n, window, poll)
	}
}

// TestSourceWithoutRevision: a source that cannot report its revision
// (memstore, or a wrapper that hides its store's Revision) gets no poll and
// no default bound, and Health says so; a bound set explicitly is
// confirmed by full loads and fails closed when they fail.
func TestSourceWithoutRevision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newManualClock(t0)
	mem, err := memstore.New(freshModel(false))
	if err != nil {
		t.Fatal(err)
	}
	wrapped := struct{ iam.PolicySource }{&revSource{m: freshModel(false), rev: 1}}
	for name, src := range map[string]iam.PolicySource{"memstore": mem, "wrapper": wrapped} {
		a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now))
		if err != nil {
			t.Fatal(err)
		}
		h := a.Health()
		if h.RevisionSource || h.PollInterval != 0 || h.MaxStaleness != 0 {
			t.Errorf("%s: Health does not show a source without revision: %+v", name, h)
		}
		clk.advance(1000 * time.Hour)
		if d, err := a.Check(ctx, annSub, readPerm, ward7); err != nil || !d.Allowed {
			t.Errorf("%s: with no bound: %+v, %v", name, d, err)
		}
		a.Close()
	}

	inner := &revSource{m: freshModel(false), rev: 1}
	a, err := iam.New(ctx, struct{ iam.PolicySource }{inner}, quiet, iam.WithClock(clk.now), iam.WithMaxStaleness(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if h := a.Health(); h.MaxStaleness != time.Minute || h.RevisionSource {
		t.Fatalf("explicit bound: %+v", h)
	}
	inner.fail(errors.New("connection refused"))
	clk.advance(2 * time.Minute)
	if _, err := a.Check(ctx, annSub, readPerm, ward7); !errors.Is(err, iam.ErrStale) {
		t.Errorf("explicit bound over a source without revision, store down: %v; want ErrStale", err)
	}
}

// TestHealthJSON: Health marshals with lower-case snake_case keys, RFC 3339
// times, durations in seconds and errors as their messages.
func TestHealthJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newManualClock(t0)
	src := &revSource{m: freshModel(false), rev: 7}
	a, err := iam.New(ctx, src, quiet, iam.WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	src.fail(errors.New("connection refused"))
	clk.advance(90 * time.Second)
	_ = a.Reload(ctx)
	b, err := json.Marshal(a.Health())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"revision":              7.0,
		"behind_seconds":        90.0,
		"poll_interval_seconds": 1.0,
		"max_staleness_seconds": 30.0,
		"revision_source":       true,
		"stale":                 true,
		"last_confirmed":        "2025-03-14T12:00:00Z",
		"last_error_at":         "2025-03-14T12:01:30Z",
		"watcher":               "none",
		"fallback":              false,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (in %s)", k, got[k], v, b)
		}
	}
	if e, _ := got["last_error"].(string); !strings.Contains(e, "connection refused") {
		t.Errorf("last_error = %v", got["last_error"])
	}
	for k := range got {
		if k != strings.ToLower(k) || strings.ContainsAny(k, " -") {
			t.Errorf("key %q is not lower-case snake_case", k)
		}
		if _, ok := want[k]; !ok && k != "last_error" {
			t.Errorf("unexpected key %q", k)
		}
	}
}
