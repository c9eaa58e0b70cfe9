package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/session/secrets"
)

// TestPostgresAndRedis runs iamd on PostgreSQL (a schema of its own) with
// sessions in Redis (a key prefix of its own), twice, as two processes of
// one deployment would: a token issued by the first is accepted by the
// second, and the bootstrap administrator is created once.
func TestPostgresAndRedis(t *testing.T) {
	dsn, _ := testdb.PostgresSchemaDSN(t) // skips (or fails with IAM_REQUIRE_SERVICES=1) without PostgreSQL
	redis := testdb.RedisAddr(t)
	dir := t.TempDir()
	keyLine, err := secrets.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	hk := make([]byte, 32)
	_, _ = rand.Read(hk)
	hmacPath := filepath.Join(dir, "hmac")
	if err := os.WriteFile(hmacPath, []byte(base64.StdEncoding.EncodeToString(hk)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"IAMD_POSTGRES_DSN": dsn, "IAMD_REDIS_ADDR": redis, "IAMD_KEYS": keyLine,
		"IAMD_HMAC_KEY_FILE": hmacPath, "IAMD_REDIS_PREFIX": testdb.Name("iamd") + ":", "IAMD_LISTEN": "127.0.0.1:0", "IAMD_DATA": dir}
	startWith := func() *server {
		ctx, cancel := context.WithCancel(context.Background())
		s := &server{out: &syncBuf{}, cancel: cancel, done: make(chan error, 1)}
		addr := make(chan string, 1)
		go func() {
			s.done <- run(ctx, nil, func(k string) string { return env[k] }, s.out, io.Discard, func(a string) { addr <- a })
		}()
		select {
		case s.addr = <-addr:
		case err := <-s.done:
			t.Fatalf("iamd stopped: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("iamd did not start")
		}
		t.Cleanup(func() { s.stop(t) })
		return s
	}
	a := startWith()
	m := passwordLine.FindStringSubmatch(a.out.String())
	if m == nil {
		t.Fatalf("no one-time password:\n%s", a.out.String())
	}
	b := startWith()
	if strings.Contains(b.out.String(), "password:") {
		t.Fatal("the second process created another bootstrap administrator")
	}
	tok := a.login(t, m[1])
	if code, body := b.call(t, "GET", "/api/v1/auth/session", tok, ""); code != 200 {
		t.Fatalf("a token from the first process on the second: %d %s", code, body)
	}
	if code, _ := a.call(t, "POST", "/api/v1/auth/logout", tok, ""); code != 204 {
		t.Fatal("logout")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := b.call(t, "GET", "/api/v1/auth/session", tok, "")
		if code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second process still accepts a logged-out token: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Each process listens for the policy changes the other commits.
	for _, s := range []*server{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, body := s.call(t, "GET", "/readyz", "", "")
			if code == 200 && strings.Contains(string(body), "policy watcher: connected") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz: %d %s", code, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
