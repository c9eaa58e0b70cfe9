package pgnotify_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casbin/casbin/v3"
	gormadapter "github.com/casbin/gorm-adapter/v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/pgnotify"
	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
)

// events records what a Watch call reports.
type events struct {
	n  atomic.Int64
	ch chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1000)} }

func (e *events) changed() {
	e.n.Add(1)
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

// next waits for one report.
func (e *events) next(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-e.ch:
	case <-time.After(within):
		t.Fatalf("no change reported within %s", within)
	}
}

// watch runs l.Watch until the test ends.
func watch(t *testing.T, l *pgnotify.Listener) *events {
	t.Helper()
	ev := newEvents()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Watch(ctx, ev.changed) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v", err)
		}
	})
	return ev
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, _ := testdb.PostgresSchemaDSN(t)
	db := open(t, dsn)
	if err := pgnotify.Migrate(ctx, db, ""); !errors.Is(err, pgstore.ErrNotMigrated) {
		t.Fatalf("Migrate before pgstore.Migrate: %v", err)
	}
	if err := pgstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := pgnotify.Migrate(ctx, db, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{"Policy", "1x", "a-b", "x'; DROP TABLE casbin_rule; --", string(make([]byte, 64))} {
		if err := pgnotify.Migrate(ctx, db, bad); err == nil {
			t.Errorf("Migrate accepted channel %q", bad)
		}
		if _, err := pgnotify.New(dsn, pgnotify.WithChannel(bad)); err == nil {
			t.Errorf("New accepted channel %q", bad)
		}
	}
	if _, err := pgnotify.New("postgres://[::1"); err == nil {
		t.Error("New accepted a malformed DSN")
	}
}

// TestNotifiesCommittedChanges: every committed write is reported, with
// its revision; a refused (rolled back) write is not.
func TestNotifiesCommittedChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	if _, err := e.store.Replace(ctx, staff(3)); err != nil {
		t.Fatal(err)
	}
	l := e.listener(t, pgnotify.WithPollInterval(0))
	ev := watch(t, l)
	ev.next(t, 5*time.Second) // the resync after connecting
	if !l.Connected() || l.Revision() != 1 || l.Channel() != e.channel {
		t.Fatalf("after connect: connected %v, revision %d", l.Connected(), l.Revision())
	}
	rev, err := e.store.Apply(ctx, revoke(0))
	if err != nil {
		t.Fatal(err)
	}
	ev.next(t, 5*time.Second)
	if l.Revision() != rev {
		t.Errorf("revision %d after the notification; the write returned %d", l.Revision(), rev)
	}
	if _, err := e.store.Apply(ctx, revoke(0)); !errors.Is(err, rbac.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	select {
	case <-ev.ch:
		t.Fatal("a refused write was notified")
	case <-time.After(200 * time.Millisecond):
	}
}

// TestResyncAfterReconnect: when the listening connection is killed, the
// listener reconnects and reports a change, so that one written while it
// was down is not missed.
func TestResyncAfterReconnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	if _, err := e.store.Replace(ctx, staff(3)); err != nil {
		t.Fatal(err)
	}
	name := "pgnotify-test-" + e.channel
	l := e.listener(t, pgnotify.WithApplicationName(name), pgnotify.WithBackoff(20*time.Millisecond, 100*time.Millisecond), pgnotify.WithPollInterval(0))
	ev := watch(t, l)
	ev.next(t, 5*time.Second)
	if n := terminate(t, e.db, name); n != 1 {
		t.Fatalf("terminated %d backends named %s", n, name)
	}
	if _, err := e.store.Apply(ctx, revoke(1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.Connections() < 2 || l.Revision() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no resync: %d connections, revision %d", l.Connections(), l.Revision())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := ev.n.Load(); n < 2 {
		t.Errorf("%d reports; want the first connect's and the reconnect's", n)
	}
}

// TestPollFindsChanges: with no notification arriving (the trigger sends
// on another channel), the poll still reports a change.
func TestPollFindsChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	if _, err := e.store.Replace(ctx, staff(3)); err != nil {
		t.Fatal(err)
	}
	l, err := pgnotify.New(e.dsn, pgnotify.WithChannel(e.channel+"_deaf"), pgnotify.WithPollInterval(50*time.Millisecond), pgnotify.WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	ev := watch(t, l)
	ev.next(t, 5*time.Second)
	time.Sleep(150 * time.Millisecond) // polls that find nothing report nothing
	if n := ev.n.Load(); n != 1 {
		t.Fatalf("%d reports with nothing changed", n)
	}
	rev, err := e.store.Apply(ctx, revoke(2))
	if err != nil {
		t.Fatal(err)
	}
	ev.next(t, 5*time.Second)
	if l.Revision() != rev {
		t.Errorf("poll saw revision %d, want %d", l.Revision(), rev)
	}
}

// TestAuthorizerFollowsOtherWriters: an Authorizer with a Listener denies a
// grant revoked by another writer (another pool, as another process would)
// without being asked to reload, and reports a connected watcher.
func TestAuthorizerFollowsOtherWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	if _, err := e.store.Replace(ctx, staff(5)); err != nil {
		t.Fatal(err)
	}
	a, err := iam.New(ctx, newStore(t, open(t, e.dsn)), iam.WithNotifier(e.listener(t)), iam.WithMaxStaleness(2*time.Second), iam.WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitUntil(t, 5*time.Second, func() bool { return a.Health().Watcher == iam.WatcherConnected })
	for i := range 5 {
		if d, err := a.Check(ctx, user(i), sinView, ward7); err != nil || !d.Allowed {
			t.Fatalf("user %d before: %+v, %v", i, d, err)
		}
		rev, err := e.store.Apply(ctx, revoke(i))
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 5*time.Second, func() bool {
			d, err := a.Check(ctx, user(i), sinView, ward7)
			return err == nil && !d.Allowed && d.Revision >= rev
		})
	}
	// Read your own writes through WaitForRevision.
	rev, err := e.store.Apply(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: user(0), Role: "clerk", Scope: "ward:7"}}})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.WaitForRevision(wctx, rev); err != nil {
		t.Fatal(err)
	}
	if d, err := a.Check(ctx, user(0), sinView, ward7); err != nil || !d.Allowed {
		t.Fatalf("after WaitForRevision(%d): %+v, %v", rev, d, err)
	}
	h := a.Health()
	if h.Stale || h.LastError != nil || h.Revision < rev || h.Watcher != iam.WatcherConnected {
		t.Errorf("Health: %+v", h)
	}
}

func waitUntil(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(time.Millisecond)
	}
}

// cutOffStore returns a store on e's database through a loopback proxy
// that is already severed, and the function that restores it.
func cutOffStore(t *testing.T, e env) (*pgstore.Store, func()) {
	t.Helper()
	proxied, sever, restore := testdb.ProxyDSN(t, e.dsn)
	sever()
	db, err := gorm.Open(postgres.Open(proxied), &gorm.Config{Logger: logger.Discard, DisableAutomaticPing: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	return newStore(t, db), restore
}

// TestNewWithDatabaseUnreachable: iam.New fails with a clear error rather
// than start with an empty policy.
func TestNewWithDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	if _, err := e.store.Replace(ctx, staff(2)); err != nil {
		t.Fatal(err)
	}
	store, _ := cutOffStore(t, e)
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a, err := iam.New(nctx, store, iam.WithNotifier(e.listener(t)))
	if err == nil {
		a.Close()
		t.Fatal("New succeeded with the database unreachable")
	}
	t.Logf("New: %v", err)
}

// TestNewFromFallbackWithDatabaseUnreachable: with iam.WithFallback, a
// process that starts while PostgreSQL is cut off serves the copy an
// earlier process kept in SQLite, then picks up what changed meanwhile
// once the database is reachable again.
func TestNewFromFallbackWithDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	rev, err := e.store.Replace(ctx, staff(2))
	if err != nil {
		t.Fatal(err)
	}
	file, err := sqlitestore.Open(filepath.Join(t.TempDir(), "fallback.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if err := sqlitestore.Migrate(ctx, file.DB()); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, sqlitestore.MinSnapshotKeyLen)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	fb, err := sqlitestore.NewSnapshotStore(file, key)
	if err != nil {
		t.Fatal(err)
	}
	first, err := iam.New(ctx, e.store, iam.WithFallback(fb))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() bool {
		_, kept, _, err := fb.LoadSnapshot(ctx)
		return err == nil && kept == rev
	})
	first.Close()

	store, restore := cutOffStore(t, e)
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a, err := iam.New(nctx, store, iam.WithFallback(fb), iam.WithLogger(quietLog))
	if err != nil {
		t.Fatalf("New with the database unreachable and a copy kept: %v", err)
	}
	defer a.Close()
	if h := a.Health(); !h.Fallback || h.Revision != rev || h.LastError == nil {
		t.Fatalf("health while serving the copy: %+v", h)
	}
	if err := a.Require(ctx, user(0), sinView, ward7); err != nil {
		t.Fatalf("check from the copy: %v", err)
	}

	// Meanwhile another process revokes; then the database comes back.
	next, err := e.store.Apply(ctx, revoke(0))
	if err != nil {
		t.Fatal(err)
	}
	restore()
	waitUntil(t, 30*time.Second, func() bool { return !a.Health().Fallback && a.Revision() == next })
	if d, err := a.Check(ctx, user(0), sinView, ward7); err != nil || d.Allowed {
		t.Fatalf("after the database came back: %+v, %v; want the revoke", d, err)
	}
}

// TestRowsWrittenByHandReachAuthorizers: a policy row deleted with plain
// SQL (not through a Store) moves the revision through pgstore's trigger,
// so a listening Authorizer stops allowing what the row granted.
func TestRowsWrittenByHandReachAuthorizers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	if _, err := e.store.Replace(ctx, staff(2)); err != nil {
		t.Fatal(err)
	}
	a, err := iam.New(ctx, e.store, iam.WithNotifier(e.listener(t)), iam.WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Require(ctx, user(1), sinView, ward7); err != nil {
		t.Fatal(err)
	}
	before := a.Revision()
	if err := e.db.Exec("DELETE FROM casbin_rule WHERE v0 = ?", string(user(1))).Error; err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() bool { return a.Revision() > before })
	if d, err := a.Check(ctx, user(1), sinView, ward7); err != nil || d.Allowed {
		t.Fatalf("after the rows were deleted by hand: %+v, %v", d, err)
	}
}

// TestCasbinWatcher: a plain Casbin enforcer over gorm-adapter's table
// stays fresh through CasbinWatcher, and a change written through Casbin
// (which does not move the revision) reaches iam through Update.
func TestCasbinWatcher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t)
	if _, err := e.store.Replace(ctx, staff(3)); err != nil {
		t.Fatal(err)
	}
	quiet := e.db.Session(&gorm.Session{})
	gormadapter.TurnOffAutoMigrate(quiet)
	adapter, err := gormadapter.NewAdapterByDB(quiet)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := casbinx.NewModel()
	if err != nil {
		t.Fatal(err)
	}
	enf, err := casbin.NewSyncedEnforcer(cm, adapter)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pgnotify.NewCasbinWatcher(e.dsn, pgnotify.WithChannel(e.channel), pgnotify.WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var (
		mu   sync.Mutex
		msgs []string
	)
	if err := enf.SetWatcher(w); err != nil {
		t.Fatal(err)
	}
	// Replace Casbin's default callback (which drops LoadPolicy's error) with
	// one that records what it got.
	if err := w.SetUpdateCallback(func(msg string) {
		mu.Lock()
		msgs = append(msgs, msg)
		mu.Unlock()
		if err := enf.LoadPolicy(); err != nil {
			t.Errorf("LoadPolicy: %v", err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	allowed := func(i int) bool {
		ok, err := casbinx.Enforce(enf, user(i), sinView, ward7, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	waitUntil(t, 5*time.Second, func() bool { return w.Listener().Connected() })
	if !allowed(0) {
		t.Fatal("casbin denies before the revoke")
	}
	rev, err := e.store.Apply(ctx, revoke(0))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() bool { return !allowed(0) })
	mu.Lock()
	if !containsMsg(msgs, strconv.FormatInt(rev, 10)) {
		t.Errorf("callback messages %q lack revision %d", msgs, rev)
	}
	mu.Unlock()

	// A change written through Casbin, announced with Update, reaches iam.
	a, err := iam.New(ctx, e.store, iam.WithNotifier(e.listener(t)), iam.WithLogger(quietLog))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	enf.EnableAutoNotifyWatcher(false)
	if _, err := enf.RemoveFilteredPolicy(0, string(user(1))); err != nil {
		t.Fatal(err)
	}
	before := a.Revision()
	if err := w.Update(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() bool { return a.Revision() > before })
	if d, err := a.Check(ctx, user(1), sinView, ward7); err != nil || d.Allowed {
		t.Errorf("iam after a Casbin write and Update: %+v, %v", d, err)
	}
}

func containsMsg(msgs []string, want string) bool {
	for _, m := range msgs {
		if m == want {
			return true
		}
	}
	return false
}

// TestStoreRevision: pgstore's Revision (iam.RevisionSource) reads the
// revision a write returned, and says when the tables are missing.
func TestStoreRevision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, _ := testdb.PostgresSchemaDSN(t)
	s := newStore(t, open(t, dsn))
	if _, err := s.Revision(ctx); !errors.Is(err, pgstore.ErrNotMigrated) {
		t.Fatalf("Revision before Migrate: %v", err)
	}
	e := setup(t)
	if r, err := e.store.Revision(ctx); err != nil || r != 0 {
		t.Fatalf("Revision after Migrate = %d, %v", r, err)
	}
	rev, err := e.store.Replace(ctx, staff(1))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := e.store.Revision(ctx); err != nil || r != rev {
		t.Fatalf("Revision = %d, %v; the write returned %d", r, err, rev)
	}
}
