package pgoutbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/pgoutbox"
	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
)

var noon = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// store is what the tests need from a SQL policy store.
type store interface {
	Replace(ctx context.Context, m rbac.Model) (int64, error)
	ApplyWithEvents(ctx context.Context, c rbac.Change, events func(int64) []iam.Event) (int64, error)
	LoadPolicy(ctx context.Context) (rbac.Model, int64, error)
}

// backend opens a store and its handle on one database; reopen opens
// another pool on the same database, standing in for another process.
type backend struct {
	name   string
	open   func(t *testing.T) (store, *gorm.DB, string)
	reopen func(t *testing.T, where string) (store, *gorm.DB)
}

func sqliteBackend() backend {
	open := func(t *testing.T, path string) (store, *gorm.DB) {
		t.Helper()
		s, err := sqlitestore.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := sqlitestore.Migrate(context.Background(), s.DB()); err != nil {
			t.Fatal(err)
		}
		return s, s.DB()
	}
	return backend{
		name: "sqlite",
		open: func(t *testing.T) (store, *gorm.DB, string) {
			path := filepath.Join(t.TempDir(), "policy.db")
			s, db := open(t, path)
			return s, db, path
		},
		reopen: open,
	}
}

func postgresBackend() backend {
	open := func(t *testing.T, dsn string) (store, *gorm.DB) {
		t.Helper()
		db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if s, err := db.DB(); err == nil {
				s.Close()
			}
		})
		if err := pgstore.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		s, err := pgstore.New(db)
		if err != nil {
			t.Fatal(err)
		}
		return s, db
	}
	return backend{
		name: "postgres",
		open: func(t *testing.T) (store, *gorm.DB, string) {
			dsn, _ := testdb.PostgresSchemaDSN(t)
			s, db := open(t, dsn)
			return s, db, dsn
		},
		reopen: open,
	}
}

func backends() []backend { return []backend{sqliteBackend(), postgresBackend()} }

func seed() rbac.Model {
	return rbac.Model{
		Roles: []rbac.Role{
			{ID: "clerk", Permissions: []rbac.Permission{"clerk.minutes.read"}},
			{ID: "po-creator", Permissions: []rbac.Permission{"finance.po.create"}},
			{ID: "po-approver", Permissions: []rbac.Permission{"finance.po.approve"}},
		},
		Conflicts: []rbac.ConflictRule{{ID: "po", Roles: [2]rbac.RoleID{"po-creator", "po-approver"}}},
	}
}

func assigned(sub rbac.Subject, role rbac.RoleID, id string) func(int64) []iam.Event {
	return func(rev int64) []iam.Event {
		return []iam.Event{{Version: iam.EventSchemaVersion, ID: id, Type: "role.assigned", Time: noon, Subject: sub, Revision: rev,
			Detail: map[string]string{"role": string(role), "scope": "org"}}}
	}
}

// recorder is a sink that keeps what it is given and can be told to fail
// after accepting, like a relay that dies before it commits.
type recorder struct {
	mu        sync.Mutex
	got       []iam.Event
	failAfter bool
}

func (r *recorder) Record(_ context.Context, e iam.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, e)
	if r.failAfter {
		return errors.New("connection to the audit service lost before the acknowledgement")
	}
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.got {
		out = append(out, e.ID)
	}
	return out
}

func newRelay(t *testing.T, db *gorm.DB, sink pgoutbox.Sink) *pgoutbox.Relay {
	t.Helper()
	r, err := pgoutbox.New(db, sink, pgoutbox.WithClock(func() time.Time { return noon }))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMain lets the test binary act as a process that writes a change and
// dies before relaying its event.
func TestMain(m *testing.M) {
	if os.Getenv("PGOUTBOX_CHILD") != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child writes one change with its event, then kills itself: no relay, no
// clean shutdown.
func child() int {
	ctx := context.Background()
	var (
		s   store
		err error
	)
	switch os.Getenv("PGOUTBOX_CHILD") {
	case "sqlite":
		s, err = sqlitestore.Open(os.Getenv("PGOUTBOX_WHERE"))
	default:
		var db *gorm.DB
		db, err = gorm.Open(postgres.Open(os.Getenv("PGOUTBOX_WHERE")), &gorm.Config{Logger: logger.Discard})
		if err == nil {
			s, err = pgstore.New(db)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := s.ApplyWithEvents(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:kai", Role: "clerk", Scope: "org"}}},
		assigned("user:kai", "clerk", "evt-killed")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	return 3 // not reached
}

func TestProcessKilledBetweenChangeAndEvent(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, _, where := b.open(t)
			if _, err := s.Replace(context.Background(), seed()); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "PGOUTBOX_CHILD="+b.name, "PGOUTBOX_WHERE="+where)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 2 {
				t.Fatalf("child: %v\n%s", err, out)
			}
			// The change committed with its event.
			m, _, err := s.LoadPolicy(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Grants) != 1 || m.Grants[0].Subject != "user:kai" {
				t.Fatalf("grants after the crash: %+v", m.Grants)
			}
			// A new process relays it, once.
			_, db2 := b.reopen(t, where)
			sink := &recorder{}
			relay := newRelay(t, db2, sink)
			if n, err := relay.Drain(context.Background()); n != 1 || err != nil {
				t.Fatalf("Drain = %d, %v; want 1", n, err)
			}
			if n, err := relay.Drain(context.Background()); n != 0 || err != nil {
				t.Fatalf("second Drain = %d, %v; want 0", n, err)
			}
			if ids := sink.ids(); len(ids) != 1 || ids[0] != "evt-killed" {
				t.Errorf("delivered %v, want [evt-killed]", ids)
			}
		})
	}
}

func TestRedeliveryKeepsTheIdempotencyKey(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, db, _ := b.open(t)
			if _, err := s.Replace(ctx, seed()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ApplyWithEvents(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:kai", Role: "clerk", Scope: "org"}}},
				assigned("user:kai", "clerk", "evt-1")); err != nil {
				t.Fatal(err)
			}
			// The sink accepts the event but the relay never learns it did.
			flaky := &recorder{failAfter: true}
			if n, err := newRelay(t, db, flaky).RelayOnce(ctx); n != 0 || err == nil {
				t.Fatalf("RelayOnce with a failing sink = %d, %v", n, err)
			}
			// The next relay delivers it again, with the same key; a
			// deduplicating consumer processes it once.
			raw := &recorder{}
			consumer := &recorder{}
			relay := newRelay(t, db, tee{raw, pgoutbox.Dedupe(consumer)})
			if n, err := relay.Drain(ctx); n != 1 || err != nil {
				t.Fatalf("Drain = %d, %v", n, err)
			}
			all := append(flaky.ids(), raw.ids()...)
			if len(all) != 2 || all[0] != all[1] || all[0] != "evt-1" {
				t.Errorf("deliveries %v, want evt-1 twice", all)
			}
			if pending, err := relay.Pending(ctx); pending != 0 || err != nil {
				t.Errorf("Pending = %d, %v", pending, err)
			}
			// Replaying the same id through the deduplicating consumer
			// changes nothing.
			dd := pgoutbox.Dedupe(consumer)
			for range 2 {
				if err := dd.Record(ctx, iam.Event{ID: "evt-2", Type: "role.revoked"}); err != nil {
					t.Fatal(err)
				}
			}
			if ids := consumer.ids(); len(ids) != 2 || ids[0] != "evt-1" || ids[1] != "evt-2" {
				t.Errorf("consumer processed %v, want [evt-1 evt-2]", ids)
			}
		})
	}
}

func TestRefusedChangeWritesNoEvent(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, db, _ := b.open(t)
			m := seed()
			m.Grants = []rbac.Grant{{Subject: "user:lou", Role: "po-creator", Scope: "org"}}
			if _, err := s.Replace(ctx, m); err != nil {
				t.Fatal(err)
			}
			called := false
			_, err := s.ApplyWithEvents(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:lou", Role: "po-approver", Scope: "org"}}},
				func(rev int64) []iam.Event { called = true; return assigned("user:lou", "po-approver", "evt-x")(rev) })
			if !errors.Is(err, rbac.ErrConflict) {
				t.Fatalf("conflicting change: %v", err)
			}
			if called {
				t.Error("events built for a refused change")
			}
			if n, err := newRelay(t, db, &recorder{}).Pending(ctx); n != 0 || err != nil {
				t.Errorf("Pending = %d, %v; want 0", n, err)
			}
		})
	}
}

func TestPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db, _ := sqliteBackend().open(t)
	if _, err := s.Replace(ctx, seed()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyWithEvents(ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:kai", Role: "clerk", Scope: "org"}}},
		assigned("user:kai", "clerk", "evt-p")); err != nil {
		t.Fatal(err)
	}
	relay := newRelay(t, db, &recorder{})
	if n, err := relay.Purge(ctx, noon.Add(time.Hour)); n != 0 || err != nil {
		t.Errorf("Purge before delivery = %d, %v", n, err)
	}
	if _, err := relay.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := relay.Purge(ctx, noon.Add(time.Hour)); n != 1 || err != nil {
		t.Errorf("Purge after delivery = %d, %v", n, err)
	}
}

// tee hands each event to every sink.
type tee []pgoutbox.Sink

func (t tee) Record(ctx context.Context, e iam.Event) error {
	for _, s := range t {
		if err := s.Record(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
