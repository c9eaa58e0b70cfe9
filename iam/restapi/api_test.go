package restapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/civic-platform/security/iam/restapi"
)

// validator checks requests and responses against the served OpenAPI
// document and remembers which operations were exercised.
type validator struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool
}

func newValidator(t *testing.T, f *fixture) *validator {
	t.Helper()
	r := f.do("GET", "/openapi.json", "", nil)
	if r.status != 200 {
		t.Fatalf("openapi.json: %d", r.status)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.body)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("version %q", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: f.srv.URL}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &validator{t: t, doc: doc, router: router, seen: map[string]bool{}}
}

// call sends the request and validates both sides against the document.
func (v *validator) call(f *fixture, method, path, token string, body any) resp {
	v.t.Helper()
	var raw []byte
	if body != nil {
		switch b := body.(type) {
		case string:
			raw = []byte(b)
		default:
			raw = mustJSON(v.t, b)
		}
	}
	req, err := http.NewRequest(method, f.srv.URL+restapi.Prefix+path, bytes.NewReader(raw))
	if err != nil {
		v.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.t.Fatalf("%s %s is not in the document: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	req.Body = io.NopCloser(bytes.NewReader(raw))
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		v.t.Errorf("%s %s: request does not match the document: %v", method, path, err)
	}
	req.Body = io.NopCloser(bytes.NewReader(raw))
	r := f.send(req)
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.status, Header: r.header,
		Body: io.NopCloser(bytes.NewReader(r.body)), Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		v.t.Errorf("%s %s: %d response does not match the document: %v\n%s", method, path, r.status, err, r.body)
	}
	v.mu.Lock()
	v.seen[strings.ToLower(route.Method)+" "+route.Path] = true
	v.mu.Unlock()
	return r
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jsonEncode(&b, v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestEveryEndpointMatchesTheDocument drives every endpoint as an
// administrator and validates each request and response against the
// OpenAPI document; every documented operation must be exercised.
func TestEveryEndpointMatchesTheDocument(t *testing.T) {
	f := newFixture(t)
	v := newValidator(t, f)
	root := f.token("root")
	want := func(r resp, status int) {
		t.Helper()
		if r.status != status {
			t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
		}
	}

	// auth
	want(v.call(f, "GET", "/openapi.json", "", nil), 200)
	var login restapi.LoginResponse
	r := v.call(f, "POST", "/auth/login", "", map[string]any{"email": "alice@city.example", "password": pw, "return_token": true})
	want(r, 200)
	r.decode(t, &login)
	if login.Token == "" || login.Subject != "user:alice" || len(r.header.Values("Set-Cookie")) != 1 {
		t.Fatalf("login: %+v, cookies %v", login, r.header.Values("Set-Cookie"))
	}
	want(v.call(f, "POST", "/auth/login", "", map[string]any{"email": "alice@city.example", "password": "wrong"}), 401)
	want(v.call(f, "GET", "/auth/session", login.Token, nil), 200)
	want(v.call(f, "POST", "/auth/mfa/verify", "", map[string]any{"challenge": "bogus", "code": "123456"}), 401)
	want(v.call(f, "POST", "/auth/sso/saml/callback", "", nil), 501)
	want(v.call(f, "GET", "/auth/sso/oidc/callback", "", nil), 501)
	want(v.call(f, "POST", "/users/me/password", login.Token, map[string]any{"current_password": pw, "new_password": "a new and longer passphrase 7"}), 204)
	want(v.call(f, "POST", "/auth/logout", login.Token, nil), 204)
	want(v.call(f, "GET", "/auth/session", login.Token, nil), 401)

	// authorization
	var cr restapi.CheckResponse
	r = v.call(f, "POST", "/authz/check", root, map[string]any{"checks": []map[string]string{
		{"subject": "user:alice", "permission": "permits.application.read", "scope": "dept:building"},
		{"subject": "user:alice", "permission": "permits.application.approve", "scope": "dept:building"},
		{"subject": "user:alice", "permission": "permits.application.read", "scope": "region:x"},
	}})
	want(r, 200)
	r.decode(t, &cr)
	if len(cr.Decisions) != 3 || !cr.Decisions[0].Allowed || cr.Decisions[1].Allowed || cr.Decisions[2].Error != "invalid_input" {
		t.Fatalf("check: %+v", cr)
	}
	want(v.call(f, "POST", "/authz/explain", root, map[string]string{"subject": "user:alice", "permission": "permits.application.read", "scope": "dept:building"}), 200)
	want(v.call(f, "GET", "/authz/who-can?permission=permits.application.read&scope=dept:building", root, nil), 200)
	want(v.call(f, "POST", "/authz/filter", root, map[string]string{"subject": "user:alice", "permission": "permits.application.read"}), 200)

	// users and roles
	want(v.call(f, "GET", "/users?limit=2", root, nil), 200)
	want(v.call(f, "GET", "/users/alice", root, nil), 200)
	want(v.call(f, "GET", "/users/nobody", root, nil), 404)
	want(v.call(f, "GET", "/users/alice/assignments", root, nil), 200)
	r = v.call(f, "POST", "/assignments", root, map[string]string{"subject": "user:erin", "role": "cbo", "scope": "dept:building", "reason": "acting CBO"})
	want(r, 201)
	want(v.call(f, "POST", "/assignments", root, map[string]string{"subject": "user:erin", "role": "nope", "scope": "dept:building", "reason": "x"}), 404)
	want(v.call(f, "POST", "/assignments/revoke", root, map[string]string{"subject": "user:erin", "role": "cbo", "scope": "dept:building", "reason": "back"}), 200)
	want(v.call(f, "GET", "/roles", root, nil), 200)
	want(v.call(f, "GET", "/role-templates", root, nil), 200)
	want(v.call(f, "POST", "/emergency/activations", root, map[string]any{"subject": "user:erin", "role": "eoc", "scope": "org", "window_seconds": 3600, "reason": "flood"}), 201)
	want(v.call(f, "POST", "/emergency/activations/end", root, map[string]string{"subject": "user:erin", "role": "eoc", "scope": "org", "reason": "over"}), 200)

	// service accounts and keys
	want(v.call(f, "POST", "/service-accounts", root, map[string]string{"id": "permits-sync", "owner": "user:root", "department": "dept:building"}), 201)
	want(v.call(f, "GET", "/service-accounts", root, nil), 200)
	var ck restapi.CreatedKey
	r = v.call(f, "POST", "/service-accounts/permits-sync/keys", root, map[string]string{"name": "nightly"})
	want(r, 201)
	r.decode(t, &ck)
	if !strings.HasPrefix(ck.Secret, "civic_") {
		t.Fatalf("created key %+v", ck.Key)
	}
	want(v.call(f, "GET", "/service-accounts/permits-sync/keys", root, nil), 200)
	r = v.call(f, "POST", "/api-keys/"+ck.Key.ID+"/rotate", root, map[string]any{"overlap_seconds": 60})
	want(r, 201)
	var rotated restapi.CreatedKey
	r.decode(t, &rotated)
	want(v.call(f, "POST", "/api-keys/"+rotated.Key.ID+"/revoke", root, map[string]string{"reason": "test"}), 204)
	want(v.call(f, "GET", "/api-keys/report", root, nil), 200)

	for path, item := range v.doc.Paths.Map() {
		for method := range item.Operations() {
			if !v.seen[strings.ToLower(method)+" "+path] {
				t.Errorf("%s %s was not exercised", method, path)
			}
		}
	}
}

// TestAdminRoutesNeedIAMPermissions: every endpoint that requires an iam.*
// permission refuses a signed-in caller without it (403) and an anonymous
// one (401), and changes nothing.
func TestAdminRoutesNeedIAMPermissions(t *testing.T) {
	f := newFixture(t)
	alice := f.token("alice") // a permit clerk: no iam.* permission
	dana := f.token("dana")   // iam.role.assign in dept:building only
	before := f.authz.Revision()
	bodies := map[string]any{
		"/authz/check":               map[string]any{"checks": []map[string]string{{"subject": "user:root", "permission": "iam.user.list", "scope": "org"}}},
		"/authz/explain":             map[string]string{"subject": "user:root", "permission": "iam.user.list", "scope": "org"},
		"/authz/filter":              map[string]string{"subject": "user:root", "permission": "iam.user.list"},
		"/assignments":               map[string]string{"subject": "user:alice", "role": "iam-admin", "scope": "org", "reason": "escalate"},
		"/assignments/revoke":        map[string]string{"subject": "user:root", "role": "iam-admin", "scope": "org", "reason": "coup"},
		"/emergency/activations":     map[string]any{"subject": "user:alice", "role": "eoc", "scope": "org", "window_seconds": 60, "reason": "x"},
		"/emergency/activations/end": map[string]string{"subject": "user:alice", "role": "eoc", "scope": "org", "reason": "x"},
		"/service-accounts":          map[string]string{"id": "evil", "owner": "user:alice", "department": "dept:building"},
		"/service-accounts/x/keys":   map[string]string{"name": "k"},
		"/api-keys/abc/rotate":       map[string]any{},
		"/api-keys/abc/revoke":       map[string]string{"reason": "x"},
	}
	paths := map[string]string{ // concrete paths for patterns
		"/authz/who-can":              "/authz/who-can?permission=iam.user.list&scope=org",
		"/users/{id}":                 "/users/root",
		"/users/{id}/assignments":     "/users/root/assignments",
		"/service-accounts/{id}/keys": "/service-accounts/x/keys",
		"/api-keys/{id}/rotate":       "/api-keys/abc/rotate",
		"/api-keys/{id}/revoke":       "/api-keys/abc/revoke",
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Permission string `json:"x-permission"`
		} `json:"paths"`
	}
	if err := jsonDecode(f.do("GET", "/openapi.json", "", nil).body, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for p, ops := range doc.Paths {
		for m, op := range ops {
			if op.Permission == "" {
				continue
			}
			n++
			path := strings.TrimPrefix(p, restapi.Prefix)
			if c, ok := paths[path]; ok {
				path = c
			}
			body := bodies[strings.SplitN(path, "?", 2)[0]]
			for _, who := range []struct {
				name, token string
				want        int
			}{{"anonymous", "", 401}, {"clerk", alice, 403}, {"dept admin at org", dana, 403}} {
				r := f.do(strings.ToUpper(m), path, who.token, body)
				if r.status != who.want {
					t.Errorf("%s %s as %s: %d, want %d: %s", m, path, who.name, r.status, who.want, r.body)
				}
			}
		}
	}
	if n < 18 {
		t.Fatalf("only %d permission-protected operations", n)
	}
	if f.authz.Revision() != before {
		t.Fatal("a refused request changed the policy")
	}
	if accs, _ := f.keys.Accounts(f.ctx); len(accs) != 0 {
		t.Fatal("a refused request created a service account")
	}
	// A scoped administrator may assign within their department only.
	if r := f.do("POST", "/assignments", dana, map[string]string{"subject": "user:erin", "role": "permit-clerk", "scope": "dept:building", "reason": "new hire"}); r.status != 201 {
		t.Fatalf("dept admin in own dept: %d %s", r.status, r.body)
	}
	if r := f.do("POST", "/assignments", dana, map[string]string{"subject": "user:erin", "role": "permit-clerk", "scope": "dept:finance", "reason": "x"}); r.status != 403 {
		t.Fatalf("dept admin in another dept: %d", r.status)
	}
}

// TestBadBodies: oversized, unknown fields, wrong content types, trailing
// data and malformed JSON are refused before any handler work.
func TestBadBodies(t *testing.T) {
	f := newFixture(t)
	root := f.token("root")
	big := `{"checks":[` + strings.Repeat(`{"subject":"user:a","permission":"a.b.c","scope":"org"},`, 2000) + `{}]}`
	for _, tt := range []struct {
		name, ctype, body string
		want              int
	}{
		{"oversized", "application/json", big, 413},
		{"unknown field", "application/json", `{"checks":[],"admin":true}`, 400},
		{"trailing data", "application/json", `{"checks":[]} {"x":1}`, 400},
		{"malformed", "application/json", `{"checks":`, 400},
		{"empty", "application/json", ``, 400},
		{"wrong type", "text/plain", `{"checks":[]}`, 415},
		{"form", "application/x-www-form-urlencoded", `checks=1`, 415},
		{"no content type", "", `{"checks":[]}`, 415},
		{"bad charset", "application/json; charset=latin1", `{"checks":[]}`, 415},
		{"too many checks", "application/json", `{"checks":[` + strings.Repeat(`{"subject":"user:a","permission":"a.b.c","scope":"org"},`, restapi.MaxChecks) + `{"subject":"user:a","permission":"a.b.c","scope":"org"}]}`, 400},
		{"no checks", "application/json", `{"checks":[]}`, 400},
		{"type confusion", "application/json", `{"checks":"all"}`, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.srv.URL+restapi.Prefix+"/authz/check", strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			req.Header.Set("Authorization", "Bearer "+root)
			r := f.send(req)
			if r.status != tt.want || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d (%s), want %d: %s", r.status, r.header.Get("Content-Type"), tt.want, r.body)
			}
			if strings.Contains(string(r.body), "admin") || strings.Contains(string(r.body), "latin1") {
				t.Errorf("problem echoes input: %s", r.body)
			}
		})
	}
	// Hostile values inside a well-formed body are refused as invalid input.
	for _, s := range []string{"ward:7'--", "../../etc", strings.Repeat("w", 10<<10), "dept:build\u0456ng", "org\r\nX-Injected: 1"} {
		r := f.do("POST", "/assignments", root, map[string]string{"subject": "user:erin", "role": "cbo", "scope": s, "reason": "x"})
		if r.status != 400 || strings.Contains(string(r.body), "Injected") || r.header.Get("X-Injected") != "" {
			t.Errorf("scope %.40q: %d %s", s, r.status, r.body)
		}
	}
	if r := f.do("GET", "/nope", root, nil); r.status != 404 || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("unknown endpoint: %d %s", r.status, r.header.Get("Content-Type"))
	}
}

// TestBrowserSignIn: a browser signs in with its cookie jar, the session id
// rotates at sign-in, cross-site POSTs with the cookie are refused, and
// logout clears the cookie.
func TestBrowserSignIn(t *testing.T) {
	f := newFixture(t)
	jar, _ := cookiejar.New(nil)
	client := f.srv.Client()
	client.Jar = jar
	post := func(path, body string, header map[string]string) *http.Response {
		req, _ := http.NewRequest("POST", f.srv.URL+restapi.Prefix+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	get := func(path string) *http.Response {
		res, err := client.Get(f.srv.URL + restapi.Prefix + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	login := `{"email":"root@city.example","password":"` + pw + `"}`
	if res := post("/auth/login", login, nil); res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	first := jar.Cookies(mustURL(f.srv.URL))
	if len(first) != 1 {
		t.Fatalf("cookies after login: %v", first)
	}
	if res := get("/auth/session"); res.StatusCode != 200 {
		t.Fatalf("session with cookie: %d", res.StatusCode)
	}
	// Signing in again rotates the session: the first one ends.
	if res := post("/auth/login", login, nil); res.StatusCode != 200 {
		t.Fatalf("second login: %d", res.StatusCode)
	}
	if _, err := f.sessions.Verify(f.ctx, first[0].Value); err == nil {
		t.Fatal("the session presented at sign-in survived it")
	}
	// Cross-site POST carrying the cookie.
	body := `{"subject":"user:erin","role":"cbo","scope":"dept:building","reason":"csrf"}`
	if res := post("/assignments", body, map[string]string{"Sec-Fetch-Site": "cross-site"}); res.StatusCode != 403 {
		t.Fatalf("cross-site POST: %d", res.StatusCode)
	}
	if res := post("/assignments", body, map[string]string{"Sec-Fetch-Site": "same-origin"}); res.StatusCode != 201 {
		t.Fatalf("same-origin POST: %d", res.StatusCode)
	}
	if res := post("/auth/logout", "", nil); res.StatusCode != 204 {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if res := get("/auth/session"); res.StatusCode != 401 {
		t.Fatalf("after logout: %d", res.StatusCode)
	}
}

// TestLockoutIs429: repeated failures lock with 429 and Retry-After.
func TestLockoutIs429(t *testing.T) {
	f := newFixture(t)
	var last resp
	for range 30 {
		last = f.do("POST", "/auth/login", "", map[string]string{"email": "alice@city.example", "password": "nope"})
		if last.status == 429 {
			break
		}
		if last.status != 401 {
			t.Fatalf("failed login: %d", last.status)
		}
	}
	if last.status != 429 || last.header.Get("Retry-After") == "" {
		t.Fatalf("no lock after 30 failures: %d", last.status)
	}
}

// TestSSOCallbacksWired: with SSO handlers configured, the callbacks reach
// them (and without, they answer 501, see TestEveryEndpointMatchesTheDocument).
func TestSSOCallbacksWired(t *testing.T) {
	var oidcHits, samlHits int
	oidc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oidcHits++
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	saml := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		samlHits++
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	f := newFixture(t, restapi.WithSSO(oidc, saml))
	client := *f.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, c := range []struct{ method, path string }{{"GET", "/auth/sso/oidc/callback?code=x&state=y"}, {"POST", "/auth/sso/saml/callback"}} {
		req, _ := http.NewRequest(c.method, f.srv.URL+restapi.Prefix+c.path, nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Errorf("%s: %d", c.path, res.StatusCode)
		}
	}
	if oidcHits != 1 || samlHits != 1 {
		t.Fatalf("handlers reached: oidc %d, saml %d", oidcHits, samlHits)
	}
}

// TestAmbiguousJSONRefused: a body that two JSON parsers could read
// differently is refused before anything is decided or written — a key
// given twice (in any letter case, or as a Unicode spelling Go's decoder
// folds onto an ASCII name), a non-ASCII key, and text that is not UTF-8.
func TestAmbiguousJSONRefused(t *testing.T) {
	f := newFixture(t)
	root := f.token("root")
	before := f.do("GET", "/users/erin/assignments", root, nil)
	for _, tt := range []struct{ name, body string }{
		{"duplicate key", `{"subject":"user:erin","role":"permit-clerk","role":"iam-admin","scope":"dept:building","reason":"x"}`},
		{"duplicate in another case", `{"subject":"user:erin","role":"permit-clerk","ROLE":"iam-admin","scope":"dept:building","reason":"x"}`},
		{"long s folds onto s", `{"subject":"user:erin","role":"permit-clerk","scope":"dept:building","\u017fcope":"org","reason":"x"}`},
		{"kelvin sign folds onto k", `{"subject":"user:erin","role":"permit-clerk","scope":"dept:building","reason":"x","\u212a":1}`},
		{"escaped duplicate", `{"subject":"user:erin","role":"permit-clerk","\u0072ole":"iam-admin","scope":"dept:building","reason":"x"}`},
		{"invalid UTF-8", "{\"subject\":\"user:erin\xff\",\"role\":\"permit-clerk\",\"scope\":\"dept:building\",\"reason\":\"x\"}"},
		{"duplicate nested", `{"checks":[{"subject":"user:a","subject":"user:root","permission":"a.b.c","scope":"org"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := "/assignments"
			if strings.Contains(tt.body, "checks") {
				path = "/authz/check"
			}
			req, _ := http.NewRequest("POST", f.srv.URL+restapi.Prefix+path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+root)
			r := f.send(req)
			if r.status != 400 || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d (%s), want 400: %s", r.status, r.header.Get("Content-Type"), r.body)
			}
		})
	}
	if after := f.do("GET", "/users/erin/assignments", root, nil); string(after.body) != string(before.body) {
		t.Errorf("a refused body changed erin's assignments:\n%s\n%s", before.body, after.body)
	}
}

// TestRefusalNamesRevision: an admin route refused by the policy names the
// revision it was decided on in X-Policy-Revision, like an allowed one.
func TestRefusalNamesRevision(t *testing.T) {
	f := newFixture(t)
	alice := f.token("alice")
	r := f.do("POST", "/assignments", alice, map[string]string{"subject": "user:erin", "role": "cbo", "scope": "dept:building", "reason": "x"})
	if r.status != 403 || r.header.Get("X-Policy-Revision") == "" {
		t.Fatalf("status %d, %s %q", r.status, "X-Policy-Revision", r.header.Get("X-Policy-Revision"))
	}
}
