package httpbench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/casbin/casbin/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
)

func model() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:building"}, {Scope: "dept:finance"}, {Scope: "ward:7", Parent: "dept:building"}},
		Roles: []rbac.Role{
			{ID: "permit-clerk", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "cbo", Inherits: []rbac.RoleID{"permit-clerk"}, Permissions: []rbac.Permission{"permits.application.approve"}},
		},
		Grants: []rbac.Grant{{Subject: "user:carol", Role: "cbo", Scope: "dept:building"}},
	}
}

var nop = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

// serve runs h on a fresh request carrying header, in process.
func serve(b *testing.B, h http.Handler, header, value string) {
	r := httptest.NewRequest("POST", "/departments/building/permits/approve", nil)
	r.SetPathValue("dept", "building")
	if header != "" {
		r.Header.Set(header, value)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
}

// BenchmarkRequest compares one authenticated, authorized request (verify
// the credential, check permits.application.approve at the department taken
// from the path, run a handler that does nothing), measured in process with
// httptest:
//
//   - bare: the handler alone, what net/http and httptest cost;
//
//   - iamhttp: Authenticate + Require on a warm session (bearer token);
//
//   - iamhttp-cookie: the same with the session cookie (adds the
//     cross-origin check);
//
//   - jwt-casbin: golang-jwt ES256 verification of a bearer token on every
//     request plus a Casbin SyncedCachedEnforcer check over the same policy
//     (the model Casbin uses as our reference), at a fixed instant so the
//     enforcer's cache hits.
//
//     go test -run '^$' -bench BenchmarkRequest -benchmem ./internal/httpbench
func BenchmarkRequest(b *testing.B) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, nop, "", "")
		}
	})

	authz, err := iam.New(ctx, memSource{model()}, iam.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer authz.Close()
	key, _ := session.GenerateKey(session.EdDSA, "k1")
	ring, _ := session.NewKeyring(key)
	sessions, err := session.New(session.NewMemoryStore(), ring, session.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer sessions.Close()
	for deadline := time.Now().Add(5 * time.Second); !sessions.Health().Connected; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("session feed not connected")
		}
	}
	_, tok, err := sessions.Create(ctx, session.Start{Subject: "user:carol", Method: session.MethodPassword})
	if err != nil {
		b.Fatal(err)
	}
	mw, err := iamhttp.New(authz, iamhttp.WithSessions(sessions), iamhttp.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	h := mw.Authenticate(mw.Require("permits.application.approve", iamhttp.FromPath("dept", "dept"))(nop))
	b.Run("iamhttp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, "Authorization", "Bearer "+tok)
		}
	})
	b.Run("iamhttp-cookie", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, "Cookie", mw.CookieName()+"="+tok)
		}
	})

	// golang-jwt + Casbin, on the same policy.
	pk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signed, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{
		Subject: "user:carol", Issuer: "civic", Audience: jwt.ClaimStrings{"permits"},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(pk)
	if err != nil {
		b.Fatal(err)
	}
	cm, err := casbinx.NewModel()
	if err != nil {
		b.Fatal(err)
	}
	e, err := casbin.NewSyncedCachedEnforcer(cm)
	if err != nil {
		b.Fatal(err)
	}
	if err := casbinx.Configure(e.SyncedEnforcer.Enforcer); err != nil {
		b.Fatal(err)
	}
	lines, err := casbinx.Lines(model())
	if err != nil {
		b.Fatal(err)
	}
	if err := casbinx.AddLines(e, lines); err != nil {
		b.Fatal(err)
	}
	at := time.Now()
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer("civic"), jwt.WithAudience("permits"), jwt.WithExpirationRequired())
	keyFunc := func(*jwt.Token) (any, error) { return &pk.PublicKey, nil }
	jc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var claims jwt.RegisteredClaims
		if _, err := parser.ParseWithClaims(raw, &claims, keyFunc); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		ok, err := casbinx.Enforce(e, rbac.Subject(claims.Subject), "permits.application.approve", rbac.Scope("dept:"+r.PathValue("dept")), at)
		if err != nil || !ok {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		nop.ServeHTTP(w, r)
	})
	b.Run("jwt-casbin", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, jc, "Authorization", "Bearer "+signed)
		}
	})
}

// discard is a ResponseWriter that keeps only the status, reused between
// requests so that the middleware's own cost shows.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// BenchmarkMiddlewareOnly isolates what iamhttp adds to a request: the
// request is built once and the writer discards, so neither httptest nor
// request parsing is measured; "bare" is then the handler call alone.
//
//	go test -run '^$' -bench BenchmarkMiddlewareOnly -benchmem ./internal/httpbench
func BenchmarkMiddlewareOnly(b *testing.B) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	authz, err := iam.New(ctx, memSource{model()}, iam.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer authz.Close()
	key, _ := session.GenerateKey(session.EdDSA, "k1")
	ring, _ := session.NewKeyring(key)
	sessions, err := session.New(session.NewMemoryStore(), ring, session.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer sessions.Close()
	for deadline := time.Now().Add(5 * time.Second); !sessions.Health().Connected; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("session feed not connected")
		}
	}
	_, tok, err := sessions.Create(ctx, session.Start{Subject: "user:carol", Method: session.MethodPassword})
	if err != nil {
		b.Fatal(err)
	}
	mw, err := iamhttp.New(authz, iamhttp.WithSessions(sessions), iamhttp.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/departments/building/permits/approve", nil)
	r.SetPathValue("dept", "building")
	r.Header.Set("Authorization", "Bearer "+tok)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", nop},
		{"iamhttp", mw.Authenticate(mw.Require("permits.application.approve", iamhttp.FromPath("dept", "dept"))(nop))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				bc.h.ServeHTTP(w, r)
				if w.code != http.StatusNoContent {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

type memSource struct{ m rbac.Model }

func (s memSource) LoadPolicy(context.Context) (rbac.Model, int64, error) { return s.m, 1, nil }
