package restapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/iam/restapi"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/password"
	"github.com/civic-platform/security/session/secrets"
	"github.com/civic-platform/security/session/signin"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const pw = "correct horse battery staple 42"

func model() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:building"}, {Scope: "dept:finance"}},
		Roles: []rbac.Role{
			restapi.AdminRole,
			{ID: "permit-clerk", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "cbo", Permissions: []rbac.Permission{"permits.application.read", "permits.application.approve"}},
			{ID: "building-admin", Permissions: []rbac.Permission{"iam.role.assign", "iam.role.revoke"}},
			{ID: "eoc", Emergency: true, Permissions: []rbac.Permission{"permits.*"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:root", Role: "iam-admin", Scope: "org"},
			{Subject: "user:alice", Role: "permit-clerk", Scope: "dept:building"},
			{Subject: "user:dana", Role: "building-admin", Scope: "dept:building"},
		},
	}
}

type fixture struct {
	t        testing.TB
	ctx      context.Context
	authz    *iam.Authorizer
	sessions *session.Manager
	keys     *apikey.Manager
	signin   *signin.Service
	store    *signin.MemStore
	mw       *iamhttp.Middleware
	api      *restapi.API
	srv      *httptest.Server
}

func newFixture(t testing.TB, extra ...restapi.Option) *fixture {
	t.Helper()
	ctx := context.Background()
	src := iamtest.NewStore(model())
	authz, err := iam.New(ctx, src, iam.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { authz.Close() })
	k, _ := session.GenerateKey(session.EdDSA, "k1")
	ring, _ := session.NewKeyring(k)
	sessions, err := session.New(session.NewMemoryStore(), ring, session.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sessions.Close() })
	hk := make([]byte, 32)
	_, _ = rand.Read(hk)
	keys, err := apikey.New(apikey.NewMemoryStore(), authz, hk, apikey.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	mk := make([]byte, 32)
	_, _ = rand.Read(mk)
	kp, err := secrets.NewStaticKeys("k1", map[string][]byte{"k1": mk})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secrets.NewSealer(kp)
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.WithParams(password.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}))
	if err != nil {
		t.Fatal(err)
	}
	store := signin.NewMemStore()
	svc, err := signin.New(store, sealer, signin.WithSessions(signin.ManagerSessions(sessions)), signin.WithHasher(hasher))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"root", "alice", "dana", "erin"} {
		if _, err := svc.CreateUser(ctx, signin.User{ID: id, Email: id + "@city.example", DisplayName: id}); err != nil {
			t.Fatal(err)
		}
		if err := svc.SetPassword(ctx, id, pw); err != nil {
			t.Fatal(err)
		}
	}
	mw, err := iamhttp.New(authz, iamhttp.WithSessions(sessions), iamhttp.WithAPIKeys(keys), iamhttp.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Default()
	if err != nil {
		t.Fatal(err)
	}
	scoper, err := iam.NewScoper(iam.DataScopes{})
	if err != nil {
		t.Fatal(err)
	}
	opts := append([]restapi.Option{restapi.WithAdmin(iam.NewAdmin(authz, src)), restapi.WithSignIn(svc), restapi.WithSessions(sessions),
		restapi.WithAPIKeys(keys), restapi.WithUsers(store), restapi.WithTemplates(set), restapi.WithScoper(scoper),
		restapi.WithLogger(quiet)}, extra...)
	api, err := restapi.New(authz, mw, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(api.Handler())
	t.Cleanup(srv.Close)
	return &fixture{t: t, ctx: ctx, authz: authz, sessions: sessions, keys: keys, signin: svc, store: store, mw: mw, api: api, srv: srv}
}

// token signs id in and returns a bearer token.
func (f *fixture) token(id string) string {
	f.t.Helper()
	_, tok, err := f.sessions.Create(f.ctx, session.Start{Subject: "user:" + id, Method: session.MethodPassword})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request with an optional JSON body and bearer token.
func (f *fixture) do(method, path, token string, body any) resp {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = bytes.NewReader([]byte(b))
		default:
			js, _ := json.Marshal(b)
			rd = bytes.NewReader(js)
		}
	}
	req, err := http.NewRequest(method, f.srv.URL+restapi.Prefix+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return f.send(req)
}

func (f *fixture) send(req *http.Request) resp {
	f.t.Helper()
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}
