package pgnotify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/pgnotify"
	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
)

// The Listener satisfies iam's interfaces; only tests import iam.
var (
	_ iam.Notifier           = (*pgnotify.Listener)(nil)
	_ iam.ConnectionReporter = (*pgnotify.Listener)(nil)
	_ iam.RevisionSource     = (*pgstore.Store)(nil)
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is one test's schema with the store and the trigger installed.
type env struct {
	dsn     string // search_path is the schema
	channel string // the schema's name: channels are per database
	db      *gorm.DB
	store   *pgstore.Store
}

func setup(t testing.TB) env {
	t.Helper()
	dsn, schema := testdb.PostgresSchemaDSN(t)
	db := open(t, dsn)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := pgnotify.Migrate(ctx, db, schema); err != nil {
		t.Fatal(err)
	}
	return env{dsn: dsn, channel: schema, db: db, store: newStore(t, db)}
}

// open opens a gorm handle of its own on dsn, closed when the test ends.
func open(t testing.TB, dsn string) *gorm.DB {
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
	return db
}

func newStore(t testing.TB, db *gorm.DB) *pgstore.Store {
	t.Helper()
	s, err := pgstore.New(db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e env) listener(t testing.TB, opts ...pgnotify.Option) *pgnotify.Listener {
	t.Helper()
	l, err := pgnotify.New(e.dsn, append([]pgnotify.Option{pgnotify.WithChannel(e.channel), pgnotify.WithLogger(quietLog)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// staff is a policy of n users, user:u0 ... , each a clerk in ward:7.
func staff(n int) rbac.Model {
	m := rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "ward:7"}},
		Roles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"crm.citizen.sin.view"}}},
	}
	for i := range n {
		m.Grants = append(m.Grants, rbac.Grant{Subject: user(i), Role: "clerk", Scope: "ward:7"})
	}
	return m
}

func user(i int) rbac.Subject { return rbac.Subject(fmt.Sprintf("user:u%d", i)) }

// revoke is the change that takes user i's grant away.
func revoke(i int) rbac.Change {
	return rbac.Change{Revoke: []rbac.GrantKey{{Subject: user(i), Role: "clerk", Scope: "ward:7"}}}
}

const (
	sinView iam.Permission = "crm.citizen.sin.view"
	ward7   iam.Scope      = "ward:7"
)

// terminate ends the backends whose application_name is name, and returns
// how many it ended. Only a test's own listeners carry its names.
func terminate(t testing.TB, db *gorm.DB, name string) int {
	t.Helper()
	var r struct{ N int }
	if err := db.Raw("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = ?", name).Scan(&r).Error; err != nil {
		t.Fatal(err)
	}
	return r.N
}

// proxyDSN routes dsn through a loopback proxy the test can sever.
func proxyDSN(t testing.TB, dsn string) (proxied string, sever, restore func()) {
	t.Helper()
	return testdb.ProxyDSN(t, dsn)
}
