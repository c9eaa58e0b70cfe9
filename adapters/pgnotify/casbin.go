package pgnotify

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/casbin/casbin/v3/persist"
	"github.com/jackc/pgx/v5"

	"github.com/civic-platform/security/internal/policytables"
)

var _ persist.Watcher = (*CasbinWatcher)(nil)

// CasbinWatcher keeps plain Casbin enforcers (in services that do not use
// iam) fresh from the same notifications: it implements Casbin's
// persist.Watcher on a [Listener], with the same resync on reconnect,
// backoff and poll, which Casbin's own PostgreSQL watcher lacks.
//
//	w, err := pgnotify.NewCasbinWatcher(dsn)
//	...
//	err = enforcer.SetWatcher(w) // callback: enforcer.LoadPolicy
//	defer w.Close()
//
// The update callback gets the revision as a decimal string, or "" after a
// (re)connect, when the enforcer must reload because notifications may
// have been missed. It is called from the watcher's goroutine.
type CasbinWatcher struct {
	l      *Listener
	cancel context.CancelFunc
	done   chan struct{}

	mu sync.Mutex
	cb func(string)
}

// NewCasbinWatcher starts a watcher on the database at dsn; opts are those
// of [New]. The watcher connects in the background and keeps reconnecting
// until [CasbinWatcher.Close].
func NewCasbinWatcher(dsn string, opts ...Option) (*CasbinWatcher, error) {
	l, err := New(dsn, opts...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &CasbinWatcher{l: l, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		_ = l.watch(ctx, w.fire) // returns only when ctx is done
	}()
	return w, nil
}

// Listener returns the Listener the watcher runs on.
func (w *CasbinWatcher) Listener() *Listener { return w.l }

func (w *CasbinWatcher) fire(rev int64, resync bool) {
	w.mu.Lock()
	cb := w.cb
	w.mu.Unlock()
	if cb == nil {
		return
	}
	if resync {
		cb("")
		return
	}
	cb(strconv.FormatInt(rev, 10))
}

// SetUpdateCallback sets the function called when the policy changed
// (Casbin's SetWatcher sets enforcer.LoadPolicy).
func (w *CasbinWatcher) SetUpdateCallback(f func(string)) error {
	w.mu.Lock()
	w.cb = f
	w.mu.Unlock()
	return nil
}

// Update tells every process that the policy changed, after this process
// changed casbin_rule directly (a Casbin enforcer's AddPolicy and friends
// call it). It bumps the revision in iam_policy_revision, which notifies
// through the trigger [Migrate] installs: iam Authorizers, which reload
// only when the revision moves, then load the change too. On a database
// migrated with pgstore.Migrate the write itself has already moved the
// revision (pgstore.RowsChangedTrigger), so Update only costs every process
// one more reload; it is kept for databases without that trigger. It uses
// a short connection of its own and waits at most ten seconds.
func (w *CasbinWatcher) Update() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, w.l.conn)
	if err != nil {
		return fmt.Errorf("pgnotify: update: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	var rev int64
	if err := conn.QueryRow(ctx, "UPDATE "+policytables.RevisionTable+" SET revision = revision + 1 WHERE id = 1 RETURNING revision").Scan(&rev); err != nil {
		return fmt.Errorf("pgnotify: update: %w", err)
	}
	w.l.seen(rev)
	return nil
}

// Close stops the watcher and waits for its goroutine; the callback is not
// called after Close returns.
func (w *CasbinWatcher) Close() {
	w.cancel()
	<-w.done
}
