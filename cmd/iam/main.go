package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/gormstore"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/signin"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// Exit codes.
const (
	exitOK    = 0
	exitNo    = 1 // denied, violations found
	exitError = 2 // usage or any other error
)

// errNo is returned by a command whose answer is "no" (denied, violations
// found): exit 1 without an error message, the answer is on stdout.
var errNo = errors.New("no")

// usageError marks an error in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, out: stdout, getenv: getenv}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors, root.SilenceUsage = true, true
	err := root.ExecuteContext(ctx)
	a.close()
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errNo):
		return exitNo
	default:
		fmt.Fprintln(stderr, "iam:", err)
		var ue usageError
		if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
			strings.Contains(err.Error(), "arg(s)") {
			fmt.Fprintln(stderr, "run 'iam help' for usage")
		}
		return exitError
	}
}

// app holds the flags and the store a command opened.
type app struct {
	stdin  io.Reader
	out    io.Writer
	getenv func(string) string

	dbFlag string
	actor  string
	format string
	lang   string

	st      *stores
	closers []func() error
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// stores is everything a command may need, opened once per run.
type stores struct {
	db     *gorm.DB
	policy interface {
		iam.PolicySource
		iam.EventWriter
	}
	authz  *iam.Authorizer
	admin  *iam.Admin
	users  signin.Store
	keys   apikey.Store
	epochs session.EpochStore
}

func (a *app) dbURL() (string, error) {
	u := a.dbFlag
	if u == "" {
		u = a.getenv("IAM_DB")
	}
	if u == "" {
		return "", usageError{errors.New("no store: pass --db (a file path or a postgres:// URL) or set IAM_DB")}
	}
	return u, nil
}

// open opens the store; create allows creating a new SQLite file (init).
func (a *app) open(ctx context.Context, create bool) (*stores, error) {
	if a.st != nil {
		return a.st, nil
	}
	raw, err := a.dbURL()
	if err != nil {
		return nil, err
	}
	st := &stores{}
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		db, err := gorm.Open(postgres.Open(raw), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", redact(raw), err)
		}
		sqlDB, err := db.DB()
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", redact(raw), err)
		}
		a.closers = append(a.closers, sqlDB.Close)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := sqlDB.PingContext(pctx); err != nil {
			return nil, fmt.Errorf("connect to %s: %w", redact(raw), err)
		}
		ps, err := pgstore.New(db)
		if err != nil {
			return nil, err
		}
		st.db, st.policy = db, ps
		if create {
			if err := migratePG(ctx, db); err != nil {
				return nil, err
			}
		}
		if st.users, err = pgstore.NewIdentityStore(db); err != nil {
			return nil, err
		}
		if st.keys, err = pgstore.NewAPIKeyStore(db); err != nil {
			return nil, err
		}
		ep, err := pgstore.NewEpochs(db)
		if err != nil {
			return nil, err
		}
		st.epochs = ep
	case strings.Contains(raw, "://"):
		return nil, usageError{fmt.Errorf("--db %s: want a file path or a postgres:// URL", redact(raw))}
	default:
		path := strings.TrimPrefix(raw, "sqlite:")
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
			if !create || !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("no store at %s: run 'iam init' first (%v)", path, errOr(err, "not a file"))
			}
		}
		ss, err := sqlitestore.Open(path)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, ss.Close)
		st.db, st.policy = ss.DB(), ss
		if create {
			if err := migrateSQLite(ctx, ss.DB()); err != nil {
				return nil, err
			}
		}
		if st.users, err = sqlitestore.NewIdentityStore(ss.DB()); err != nil {
			return nil, err
		}
		if st.keys, err = sqlitestore.NewAPIKeyStore(ss.DB()); err != nil {
			return nil, err
		}
		ep, err := sqlitestore.NewEpochs(ss.DB())
		if err != nil {
			return nil, err
		}
		st.epochs = ep
	}
	if _, _, err := st.policy.LoadPolicy(ctx); err != nil {
		return nil, fmt.Errorf("read the policy (is this an IAM store? run 'iam init'): %w", err)
	}
	authz, err := iam.New(ctx, st.policy)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, authz.Close)
	st.authz, st.admin = authz, iam.NewOutboxAdmin(authz, st.policy)
	a.st = st
	return st, nil
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

func migrateSQLite(ctx context.Context, db *gorm.DB) error {
	for _, m := range []func(context.Context, *gorm.DB) error{sqlitestore.Migrate, sqlitestore.MigrateIdentity, sqlitestore.MigrateAPIKeys, sqlitestore.MigrateEpochs} {
		if err := m(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

func migratePG(ctx context.Context, db *gorm.DB) error {
	for _, m := range []func(context.Context, *gorm.DB) error{pgstore.Migrate, pgstore.MigrateIdentity, pgstore.MigrateAPIKeys, pgstore.MigrateEpochs} {
		if err := m(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

// redact hides a password in a database URL.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return raw
	}
	user, _, hasPw := strings.Cut(userinfo, ":")
	if hasPw {
		return scheme + "://" + user + ":***@" + host
	}
	return raw
}

// ctxActor returns ctx with the actor set, if any.
func (a *app) ctxActor(ctx context.Context) context.Context {
	actor := a.actor
	if actor == "" {
		actor = a.getenv("IAM_ACTOR")
	}
	if actor == "" {
		return ctx
	}
	return iam.ContextWithActor(ctx, rbac.Subject(actor))
}

// sessions returns a session manager whose only job is to raise
// revocation epochs in the store: every process sharing the store then
// refuses the sessions it ends.
func (a *app) sessions(st *stores) (*session.Manager, error) {
	key, err := session.GenerateKey(session.EdDSA, "iam-cli")
	if err != nil {
		return nil, err
	}
	ring, err := session.NewKeyring(key)
	if err != nil {
		return nil, err
	}
	m, err := session.New(session.NewMemoryStore(), ring, session.WithEpochs(st.epochs))
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, m.Close)
	return m, nil
}

// keyManager returns an API-key manager. The HMAC key comes from
// IAM_APIKEY_KEY (hex, at least 32 bytes); without it, a random key serves
// the commands that verify nothing (list, report, revoke), and rotate is
// refused.
func (a *app) keyManager(st *stores, needKey bool) (*apikey.Manager, error) {
	var key []byte
	if h := a.getenv("IAM_APIKEY_KEY"); h != "" {
		k, err := hex.DecodeString(h)
		if err != nil || len(k) < 32 {
			return nil, usageError{errors.New("IAM_APIKEY_KEY must be at least 32 bytes in hex")}
		}
		key = k
	} else if needKey {
		return nil, usageError{errors.New("set IAM_APIKEY_KEY (hex) to the servers' API-key HMAC key")}
	} else {
		key = make([]byte, 32)
		rand.Read(key)
	}
	m, err := apikey.New(st.keys, st.authz, key)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, m.Close)
	return m, nil
}

// events reads the event stream: the store's outbox (every change the
// store wrote) and, if given, a file of JSON events, one per line (an
// export of the audit sink).
func (a *app) events(ctx context.Context, st *stores, file string) ([]iam.Event, error) {
	var rows []gormstore.OutboxRow
	if err := st.db.WithContext(ctx).Order("seq").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	var out []iam.Event
	for _, r := range rows {
		var e iam.Event
		if json.Unmarshal([]byte(r.Payload), &e) == nil {
			out = append(out, e)
		}
	}
	if file == "" {
		return out, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, 1<<30))
	for line := 1; ; line++ {
		var e iam.Event
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: event %d: %w", file, line, err)
		}
		out = append(out, e)
	}
	return out, nil
}
