package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/secrets"
	"github.com/civic-platform/security/session/signin"
)

func main() {
	dsn := flag.String("dsn", os.Getenv("PERMITS_DSN"), "PostgreSQL DSN; empty: embedded SQLite in a temporary directory")
	addr := flag.String("listen", "127.0.0.1:8081", "address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := serve(ctx, *dsn, *addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "permits:", err)
		os.Exit(1)
	}
}

const demoPassword = "permits demo passphrase 2026"

// demoPolicy: clerks read permits in their department, supervisors also
// approve and see SINs there, the building admin assigns roles there.
func demoPolicy() iam.Model {
	return iam.Model{
		Scopes: []iam.ScopeNode{{Scope: "dept:building"}, {Scope: "dept:planning"}},
		Roles: []iam.Role{
			{ID: "permit-clerk", Permissions: []iam.Permission{"permits.application.read"}},
			{ID: "permit-supervisor", Inherits: []iam.RoleID{"permit-clerk"},
				Permissions: []iam.Permission{"permits.application.approve", "permits.applicant.sin.view"}},
			{ID: "dept-admin", Permissions: []iam.Permission{"iam.role.assign"}},
		},
		Grants: []iam.Grant{
			{Subject: "user:clara", Role: "permit-clerk", Scope: "dept:building"},
			{Subject: "user:sam", Role: "permit-supervisor", Scope: "dept:building"},
			{Subject: "user:pat", Role: "permit-supervisor", Scope: "dept:planning"},
			{Subject: "user:ada", Role: "dept-admin", Scope: "dept:building"},
		},
	}
}

var demoPermits = []Permit{
	{ID: "BP-1001", Department: "building", Ward: "7", Applicant: "R. Tremblay", SIN: "046 454 286", Status: "submitted"},
	{ID: "BP-1002", Department: "building", Ward: "3", Applicant: "L. Singh", SIN: "130 692 544", Status: "submitted"},
	{ID: "PL-2001", Department: "planning", Ward: "7", Applicant: "M. Roy", SIN: "193 456 787", Status: "submitted"},
}

// service is the running app and what must be closed after it.
type service struct {
	app   *App
	close func() error
}

// setup opens the stores (PostgreSQL when dsn is set, else SQLite in dir),
// seeds the demo data once and builds the App.
func setup(ctx context.Context, dsn, dir string, opts ...iamhttp.Option) (*service, error) {
	var db *gorm.DB
	var policy interface {
		iam.PolicySource
		iam.EventWriter
	}
	var users signin.Store
	var closeDB func() error
	if dsn == "" {
		st, err := sqlitestore.Open(filepath.Join(dir, "permits.db"))
		if err != nil {
			return nil, err
		}
		db, policy, closeDB = st.DB(), st, st.Close
		if err := errors.Join(sqlitestore.Migrate(ctx, db), sqlitestore.MigrateIdentity(ctx, db)); err != nil {
			return nil, errors.Join(err, closeDB())
		}
		if users, err = sqlitestore.NewIdentityStore(db); err != nil {
			return nil, errors.Join(err, closeDB())
		}
	} else {
		var err error
		if db, err = gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard}); err != nil {
			return nil, err
		}
		sqlDB, _ := db.DB()
		closeDB = sqlDB.Close
		if err := errors.Join(pgstore.Migrate(ctx, db), pgstore.MigrateIdentity(ctx, db)); err != nil {
			return nil, errors.Join(err, closeDB())
		}
		pg, err := pgstore.New(db)
		if err != nil {
			return nil, errors.Join(err, closeDB())
		}
		policy = pg
		if users, err = pgstore.NewIdentityStore(db); err != nil {
			return nil, errors.Join(err, closeDB())
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	authz, err := iam.New(ctx, policy, iam.WithLogger(quiet))
	if err != nil {
		return nil, errors.Join(err, closeDB())
	}
	admin := iam.NewOutboxAdmin(authz, policy)
	key, _ := session.GenerateKey(session.EdDSA, "permits-1")
	ring, _ := session.NewKeyring(key)
	sessions, err := session.New(session.NewMemoryStore(), ring, session.WithLogger(quiet))
	if err != nil {
		return nil, errors.Join(err, authz.Close(), closeDB())
	}
	line, _ := secrets.GenerateKey("permits-1") // in production: secrets.LoadKeyFile
	kp, _ := secrets.ParseKeys(line)
	sealer, _ := secrets.NewSealer(kp)
	signins, err := signin.New(users, sealer, signin.WithSessions(signin.ManagerSessions(sessions)))
	if err != nil {
		return nil, errors.Join(err, sessions.Close(), authz.Close(), closeDB())
	}
	app, err := NewApp(db, authz, admin, sessions, signins, append([]iamhttp.Option{iamhttp.WithLogger(quiet)}, opts...)...)
	if err == nil {
		err = seed(ctx, app)
	}
	if err != nil {
		return nil, errors.Join(err, sessions.Close(), authz.Close(), closeDB())
	}
	return &service{app: app, close: func() error { return errors.Join(sessions.Close(), authz.Close(), closeDB()) }}, nil
}

// seed writes the demo policy, users and permits if the store is empty.
func seed(ctx context.Context, a *App) error {
	if len(a.authz.View().Model().Roles) > 0 {
		return nil
	}
	m := demoPolicy()
	if _, err := a.admin.Apply(ctx, iam.Change{PutScopes: m.Scopes, PutRoles: m.Roles, Grant: m.Grants}); err != nil {
		return err
	}
	for _, id := range []string{"clara", "sam", "pat", "ada", "dev"} {
		if _, err := a.signin.CreateUser(ctx, signin.User{ID: id, Email: id + "@city.example"}); err != nil {
			return err
		}
		if err := a.signin.SetPassword(ctx, id, demoPassword); err != nil {
			return err
		}
	}
	return a.db.WithContext(ctx).Create(&demoPermits).Error
}

func serve(ctx context.Context, dsn, addr string, out io.Writer) error {
	dir, err := os.MkdirTemp("", "permits-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Plain HTTP on loopback for the demo; behind TLS, drop InsecureCookies.
	svc, err := setup(ctx, dsn, dir, iamhttp.InsecureCookies())
	if err != nil {
		return err
	}
	defer svc.close()
	srv := &http.Server{Addr: addr, Handler: svc.app.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(out, "permits on http://%s — sign in as clara, sam, pat or ada @city.example with %q\n", addr, demoPassword)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
