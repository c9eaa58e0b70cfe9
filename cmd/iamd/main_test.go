package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type server struct {
	addr   string
	out    *syncBuf
	cancel context.CancelFunc
	done   chan error
}

// start runs iamd in this process on a loopback port with data in dir.
func start(t testing.TB, dir string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{out: &syncBuf{}, cancel: cancel, done: make(chan error, 1)}
	addr := make(chan string, 1)
	env := map[string]string{"IAMD_DATA": dir, "IAMD_LISTEN": "127.0.0.1:0"}
	go func() {
		s.done <- run(ctx, args, func(k string) string { return env[k] }, s.out, io.Discard, func(a string) { addr <- a })
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

func (s *server) stop(t testing.TB) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("iamd shut down with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("iamd did not shut down")
	}
}

func (s *server) call(t testing.TB, method, path, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (s *server) login(t testing.TB, pw string) string {
	t.Helper()
	code, b := s.call(t, "POST", "/api/v1/auth/login", "", `{"email":"admin@localhost","password":"`+pw+`","return_token":true}`)
	if code != 200 {
		t.Fatalf("login: %d %s", code, b)
	}
	var out struct{ Token string }
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		t.Fatalf("login body %s", b)
	}
	return out.Token
}

var passwordLine = regexp.MustCompile(`password: (\S+)`)

func TestBootstrapAndServe(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	m := passwordLine.FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no one-time password printed:\n%s", s.out.String())
	}
	oneTime := m[1]
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/api/v1/openapi.json": 200, "/api/v1/users": 401} {
		if code, b := s.call(t, "GET", path, "", ""); code != want {
			t.Errorf("%s: %d, want %d: %s", path, code, want, b)
		}
	}
	tok := s.login(t, oneTime)
	if code, _ := s.call(t, "GET", "/api/v1/users", tok, ""); code != 403 {
		t.Fatalf("bootstrap admin before the password change: %d, want 403", code)
	}
	const next = "a long and entirely new passphrase 9"
	if code, b := s.call(t, "POST", "/api/v1/users/me/password", tok, `{"current_password":"`+oneTime+`","new_password":"`+next+`"}`); code != 204 {
		t.Fatalf("password change: %d %s", code, b)
	}
	if code, b := s.call(t, "GET", "/api/v1/users", tok, ""); code != 200 || !strings.Contains(string(b), "admin@localhost") {
		t.Fatalf("after the change: %d %s", code, b)
	}
	if code, _ := s.call(t, "POST", "/api/v1/auth/login", "", `{"email":"admin@localhost","password":"`+oneTime+`"}`); code != 401 {
		t.Fatalf("the one-time password still works: %d", code)
	}
	s.stop(t)

	// A restart keeps the administrator and prints no new password.
	s2 := start(t, dir)
	if strings.Contains(s2.out.String(), "password:") {
		t.Fatal("a second bootstrap administrator was created")
	}
	tok = s2.login(t, next)
	if code, _ := s2.call(t, "GET", "/api/v1/roles", tok, ""); code != 200 {
		t.Fatalf("roles after restart: %d", code)
	}
}

func TestConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := parseConfig([]string{"-postgres", "postgres://x"}, env(nil), io.Discard); err == nil {
		t.Error("postgres without a key provider accepted")
	}
	if _, err := parseConfig(nil, env(map[string]string{"IAMD_POSTGRES_DSN": "postgres://x", "IAMD_KEYS": "k1:AAAA"}), io.Discard); err == nil {
		t.Error("postgres without an HMAC key accepted")
	}
	c, err := parseConfig([]string{"-listen", "127.0.0.1:9"}, env(map[string]string{"IAMD_LISTEN": "0.0.0.0:1", "IAMD_REDIS_ADDR": "r:6379"}), io.Discard)
	if err != nil || c.listen != "127.0.0.1:9" || c.redisAddr != "r:6379" {
		t.Errorf("flags over env: %+v, %v", c, err)
	}
	if _, err := parseConfig([]string{"stray"}, env(nil), io.Discard); err == nil {
		t.Error("stray argument accepted")
	}
	if _, err := parseConfig([]string{"-bogus"}, env(nil), io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
}

// TestTelemetryExport: with -trace-stdout and -metrics-stdout, spans and
// decision metrics reach standard error, labelled by module, never by
// subject.
func TestTelemetryExport(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	errOut := &syncBuf{}
	env := map[string]string{"IAMD_DATA": t.TempDir(), "IAMD_LISTEN": "127.0.0.1:0"}
	out := &syncBuf{}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-trace-stdout", "-metrics-stdout", "100ms"}, func(k string) string { return env[k] }, out, errOut, func(a string) { addr <- a })
	}()
	s := &server{out: out}
	select {
	case s.addr = <-addr:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("not started")
	}
	tok := s.login(t, passwordLine.FindStringSubmatch(out.String())[1])
	s.call(t, "GET", "/api/v1/users", tok, "")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errOut.String(), "iam.decisions") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	logs := errOut.String()
	for _, want := range []string{"iam.decisions", "iam.check.duration", "iam.policy.staleness", "HTTP GET", "iam.signin", `"Value":"iam"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("standard error lacks %q", want)
		}
	}
	if strings.Contains(logs, `"Value":"user:admin"`) {
		t.Error("a metric or span carries the subject")
	}
}
