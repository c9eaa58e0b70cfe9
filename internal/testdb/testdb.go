package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// DefaultPostgresDSN is used when IAM_TEST_POSTGRES_DSN is not set.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresDSN returns the DSN of the test database server.
func PostgresDSN() string {
	if dsn := os.Getenv("IAM_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return DefaultPostgresDSN
}

// Required reports whether unreachable services must fail tests (CI).
func Required() bool { return os.Getenv("IAM_REQUIRE_SERVICES") == "1" }

func unavailable(t testing.TB, what, how string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s unreachable (%v); start it with: %s", what, err, how)
	if Required() {
		t.Fatal(msg + " (IAM_REQUIRE_SERVICES=1)")
	}
	t.Skip(msg)
}

// Name returns a fresh lower-case identifier with the given prefix, usable as
// a schema name or key prefix.
func Name(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}

// PostgresSchemaDSN creates a fresh schema on the test server, drops it when
// the test ends, and returns a DSN whose search_path is that schema. Use it
// when the code under test opens its own connections (LISTEN, other processes).
func PostgresSchemaDSN(t testing.TB) (dsn, schema string) {
	t.Helper()
	base := PostgresDSN()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testdb: bad IAM_TEST_POSTGRES_DSN: %v", err)
	}
	host := u.Host
	if !strings.Contains(host, ":") {
		host += ":5432"
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		unavailable(t, "PostgreSQL at "+host, "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", err)
	}
	conn.Close()

	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		unavailable(t, "PostgreSQL at "+host, "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", err)
	}
	sqlDB, err := admin.DB()
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer sqlDB.Close()
	schema = Name("iamtest")
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		unavailable(t, "PostgreSQL at "+host, "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", err)
	}
	t.Cleanup(func() {
		db, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Errorf("testdb: drop schema %s: %v", schema, err)
			return
		}
		if s, err := db.DB(); err == nil {
			defer s.Close()
		}
		if err := db.Exec("DROP SCHEMA " + schema + " CASCADE").Error; err != nil {
			t.Errorf("testdb: drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

// MaxOpenConns caps each test handle's pool, so that tests running in
// parallel across packages (100 goroutines each, in some) cannot exhaust
// the server's connections: callers past the cap wait for a connection.
const MaxOpenConns = 8

// Postgres opens a gorm handle on a fresh schema (see [PostgresSchemaDSN]),
// with at most [MaxOpenConns] connections. The handle is closed when the
// test ends.
func Postgres(t testing.TB) *gorm.DB {
	t.Helper()
	dsn, _ := PostgresSchemaDSN(t)
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("testdb: open: %v", err)
	}
	if s, err := db.DB(); err == nil {
		s.SetMaxOpenConns(MaxOpenConns)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	return db
}

// RedisAddr returns the test Redis address after checking it is reachable.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("IAM_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		unavailable(t, "Redis at "+addr, `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`, err)
	}
	conn.Close()
	return addr
}
