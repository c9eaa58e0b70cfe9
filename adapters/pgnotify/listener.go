package pgnotify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civic-platform/security/internal/policytables"
)

var channelName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func checkChannel(name string) error {
	if !channelName.MatchString(name) {
		return fmt.Errorf("pgnotify: channel %q: want 1 to 63 characters of a-z, 0-9 and _, not starting with a digit", name)
	}
	return nil
}

// Listener watches the policy revision in PostgreSQL: it LISTENs on its own
// connection (never one from the service's pool, which would hand it
// back), reports every notification, resyncs after every (re)connect,
// reconnects with capped exponential backoff and jitter, and polls the
// revision as a second line of defence. It implements iam.Notifier through
// [Listener.Watch] and iam.ConnectionReporter through [Listener.Connected].
//
// A Listener is safe for concurrent use; each call of Watch runs its own
// connection.
type Listener struct {
	conn *pgx.ConnConfig
	cfg  config

	watches   atomic.Int32 // running Watch calls
	connected atomic.Int32 // of which connected and listening
	revision  atomic.Int64 // highest revision seen
	reconnect atomic.Int64 // (re)connections made
}

// New returns a Listener for the database at dsn (a PostgreSQL URL or
// key=value string, as pgx accepts). It connects only when Watch runs.
// Tables are found through the search_path the DSN sets, if any. New
// fails on a DSN pgx cannot parse or an invalid channel name.
func New(dsn string, opts ...Option) (*Listener, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkChannel(cfg.channel); err != nil {
		return nil, err
	}
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgnotify: New: %w", err)
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if cfg.appName != "" {
		cc.RuntimeParams["application_name"] = cfg.appName
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = cfg.queryTimeout
	}
	return &Listener{conn: cc, cfg: cfg}, nil
}

// Channel returns the channel the Listener listens on.
func (l *Listener) Channel() string { return l.cfg.channel }

// Connected reports whether every running Watch call is connected and
// listening; false while none runs or one is reconnecting.
func (l *Listener) Connected() bool {
	n := l.watches.Load()
	return n > 0 && l.connected.Load() == n
}

// Revision returns the highest revision the Listener has seen in a
// notification or a poll; 0 before the first.
func (l *Listener) Revision() int64 { return l.revision.Load() }

// Connections returns how many connections Watch calls have established,
// reconnections included.
func (l *Listener) Connections() int64 { return l.reconnect.Load() }

// Watch blocks until ctx is done, calling changed after every
// notification, after every (re)connect (notifications sent while it was
// disconnected are lost, so the caller must resync) and whenever the poll
// finds that the revision moved. changed is called from Watch's goroutine
// and must not block for long. Watch does not give up when the database is
// unreachable: it logs and retries with backoff. It returns nil when ctx
// is done.
func (l *Listener) Watch(ctx context.Context, changed func()) error {
	return l.watch(ctx, func(int64, bool) { changed() })
}

// watch runs sessions until ctx is done. report gets the revision in the
// payload (or the one read at connect) and whether it is a resync.
func (l *Listener) watch(ctx context.Context, report func(rev int64, resync bool)) error {
	l.watches.Add(1)
	defer l.watches.Add(-1)
	delay := l.cfg.minBackoff
	for attempt := 1; ; attempt++ {
		began := time.Now()
		err := l.session(ctx, report)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(began) > l.cfg.maxBackoff {
			delay, attempt = l.cfg.minBackoff, 1 // it worked for a while: start over
		}
		wait := delay/2 + rand.N(delay) // jitter: 0.5x .. 1.5x
		l.cfg.logger.Warn("pgnotify: listener disconnected; reconnecting", "channel", l.cfg.channel, "err", err, "attempt", attempt, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, l.cfg.maxBackoff)
	}
}

// session connects, listens, resyncs and then reports notifications until
// the connection fails or ctx is done.
func (l *Listener) session(ctx context.Context, report func(rev int64, resync bool)) error {
	conn, err := pgx.ConnectConfig(ctx, l.conn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	l.reconnect.Add(1)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.cfg.channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Listening before reading the revision: a change committed from here
	// on is notified, and one committed before is in the resync.
	rev, err := l.poll(ctx, conn)
	if err != nil {
		return err
	}
	l.connected.Add(1)
	defer l.connected.Add(-1)
	l.seen(rev)
	report(rev, true)

	next := time.Now().Add(l.cfg.poll)
	for {
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if l.cfg.poll > 0 {
			wctx, cancel = context.WithDeadline(ctx, next)
		}
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			r, perr := strconv.ParseInt(n.Payload, 10, 64)
			if perr == nil {
				l.seen(r)
			}
			report(r, false)
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Time to poll: a second line behind notifications, and a
			// probe that finds a connection which died silently.
			r, err := l.poll(ctx, conn)
			if err != nil {
				return err
			}
			if r != l.revision.Load() {
				l.seen(r)
				report(r, false)
			}
			next = time.Now().Add(l.cfg.poll)
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// poll reads the current revision on conn.
func (l *Listener) poll(ctx context.Context, conn *pgx.Conn) (int64, error) {
	qctx, cancel := context.WithTimeout(ctx, l.cfg.queryTimeout)
	defer cancel()
	var rev int64
	err := conn.QueryRow(qctx, "SELECT revision FROM "+policytables.RevisionTable+" WHERE id = 1").Scan(&rev)
	if err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	return rev, nil
}

// seen raises the highest revision seen to r.
func (l *Listener) seen(r int64) {
	for {
		cur := l.revision.Load()
		if r <= cur || l.revision.CompareAndSwap(cur, r) {
			return
		}
	}
}
