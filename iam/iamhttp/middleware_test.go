package iamhttp_test

import (
	"context"
	"encoding/json"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/signin"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/apikey"
)

func problem(t *testing.T, w *httptest.ResponseRecorder) iamhttp.Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != iamhttp.ProblemContentType {
		t.Fatalf("Content-Type %q, want %q (body %q)", ct, iamhttp.ProblemContentType, w.Body.String())
	}
	var p iamhttp.Problem
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	if p.Status != w.Code || p.Type == "" || p.Title == "" || p.RequestID == "" {
		t.Fatalf("problem %+v for status %d", p, w.Code)
	}
	return p
}

func TestRequire(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	mux := http.NewServeMux()
	h := &ran{}
	mux.Handle("GET /departments/{dept}/permits", f.mw.Require("permits.application.read", iamhttp.FromPath("dept", "dept"))(h))
	mux.Handle("POST /scopes/{scope}/approve", f.mw.Require("permits.application.approve", iamhttp.FromPath("", "scope"))(h))
	mux.Handle("POST /payments", f.mw.Require("finance.ap.payment.release", iamhttp.Fixed("dept:finance"))(h))
	mux.Handle("GET /header", f.mw.Require("permits.application.read", iamhttp.FromHeader("dept", "X-Dept"))(h))

	alice, carol := f.token("user:alice", false), f.token("user:carol", false)
	bob, bobMFA := f.token("user:bob", false), f.token("user:bob", true)
	syncKey := f.apiKey("permits-sync", apikey.Narrowing{})
	narrowKey := f.apiKey("permits-sync", apikey.Narrowing{Permissions: []rbac.Permission{"permits.application.read"}})
	payerKey := f.apiKey("payer-bot", apikey.Narrowing{})

	tests := []struct {
		name, method, path string
		header             map[string]string
		want               int
		wantType           string
	}{
		{name: "anonymous", method: "GET", path: "/departments/building/permits", want: 401, wantType: iamhttp.ProblemUnauthenticated},
		{name: "bearer allowed", method: "GET", path: "/departments/building/permits", header: map[string]string{"Authorization": "Bearer " + alice}, want: 204},
		{name: "bearer scheme case", method: "GET", path: "/departments/building/permits", header: map[string]string{"Authorization": "bEaReR " + alice}, want: 204},
		{name: "denied other dept", method: "GET", path: "/departments/finance/permits", header: map[string]string{"Authorization": "Bearer " + alice}, want: 403, wantType: iamhttp.ProblemForbidden},
		{name: "unknown scope denies", method: "GET", path: "/departments/nowhere/permits", header: map[string]string{"Authorization": "Bearer " + alice}, want: 403},
		{name: "denied permission", method: "POST", path: "/scopes/dept:building/approve", header: map[string]string{"Authorization": "Bearer " + alice}, want: 403},
		{name: "whole scope from path", method: "POST", path: "/scopes/dept:building/approve", header: map[string]string{"Authorization": "Bearer " + carol}, want: 204},
		{name: "child scope from path", method: "POST", path: "/scopes/ward:7/approve", header: map[string]string{"Authorization": "Bearer " + carol}, want: 204},
		{name: "hostile scope quote", method: "POST", path: "/scopes/ward:7'--/approve", header: map[string]string{"Authorization": "Bearer " + carol}, want: 400, wantType: iamhttp.ProblemBadRequest},
		{name: "hostile scope traversal", method: "POST", path: "/scopes/..%2F..%2Fetc/approve", header: map[string]string{"Authorization": "Bearer " + carol}, want: 400},
		{name: "hostile scope 10KB", method: "POST", path: "/scopes/ward:" + strings.Repeat("7", 10<<10) + "/approve", header: map[string]string{"Authorization": "Bearer " + carol}, want: 400},
		{name: "scope separator in kind value", method: "GET", path: "/departments/building:x/permits", header: map[string]string{"Authorization": "Bearer " + carol}, want: 400},
		{name: "unicode look-alike scope", method: "POST", path: "/scopes/dept:bu%D1%96lding/approve", header: map[string]string{"Authorization": "Bearer " + carol}, want: 400},
		{name: "org kind refused", method: "POST", path: "/scopes/region:north/approve", header: map[string]string{"Authorization": "Bearer " + carol}, want: 400},
		{name: "step-up needed", method: "POST", path: "/payments", header: map[string]string{"Authorization": "Bearer " + bob}, want: 403, wantType: iamhttp.ProblemStepUp},
		{name: "after MFA", method: "POST", path: "/payments", header: map[string]string{"Authorization": "Bearer " + bobMFA}, want: 204},
		{name: "api key allowed", method: "POST", path: "/scopes/dept:building/approve", header: map[string]string{"X-API-Key": syncKey}, want: 204},
		{name: "api key as bearer", method: "POST", path: "/scopes/dept:building/approve", header: map[string]string{"Authorization": "Bearer " + syncKey}, want: 204},
		{name: "api key narrowed", method: "POST", path: "/scopes/dept:building/approve", header: map[string]string{"X-API-Key": narrowKey}, want: 403},
		{name: "api key narrowing allows", method: "GET", path: "/departments/building/permits", header: map[string]string{"X-API-Key": narrowKey}, want: 204},
		{name: "api key never steps up", method: "POST", path: "/payments", header: map[string]string{"X-API-Key": payerKey}, want: 403, wantType: iamhttp.ProblemForbidden},
		{name: "header scope", method: "GET", path: "/header", header: map[string]string{"Authorization": "Bearer " + alice, "X-Dept": "building"}, want: 204},
		{name: "header scope missing", method: "GET", path: "/header", header: map[string]string{"Authorization": "Bearer " + alice}, want: 400},
		{name: "header scope injection", method: "GET", path: "/header", header: map[string]string{"Authorization": "Bearer " + alice, "X-Dept": "building\r\nSet-Cookie: x=1"}, want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.n.Load()
			r := httptest.NewRequest(tt.method, "/", nil)
			r.URL.Path = ""
			r.URL.RawPath = ""
			r2, err := http.NewRequest(tt.method, "http://civic.test"+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			r = r2.WithContext(f.ctx)
			for k, v := range tt.header {
				r.Header[http.CanonicalHeaderKey(k)] = []string{v}
			}
			w := f.serve(mux, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d (body %s)", w.Code, tt.want, w.Body)
			}
			ranNow := h.n.Load() != before
			if ranNow != (tt.want < 300) {
				t.Fatalf("handler ran = %v for status %d", ranNow, w.Code)
			}
			if tt.want >= 300 {
				p := problem(t, w)
				if tt.wantType != "" && p.Type != tt.wantType {
					t.Errorf("type %q, want %q", p.Type, tt.wantType)
				}
				if strings.Contains(w.Body.String(), "ward:7'") || strings.Contains(w.Body.String(), "user:") || strings.Contains(w.Body.String(), "Set-Cookie") {
					t.Errorf("problem echoes input or names a subject: %s", w.Body)
				}
				if len(w.Header().Values("Set-Cookie")) != 0 {
					t.Errorf("refusal sets a cookie")
				}
			} else if w.Header().Get(iamhttp.RevisionHeader) == "" {
				t.Errorf("no %s header", iamhttp.RevisionHeader)
			}
			switch tt.want {
			case 401:
				if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer realm=") {
					t.Errorf("WWW-Authenticate %q", got)
				}
			case 403:
				// A decision, allowed or refused, names the revision it read.
				if (tt.wantType == iamhttp.ProblemForbidden || tt.wantType == iamhttp.ProblemStepUp) && w.Header().Get(iamhttp.RevisionHeader) == "" {
					t.Errorf("refusal without %s", iamhttp.RevisionHeader)
				}
				if tt.wantType == iamhttp.ProblemStepUp && !strings.Contains(w.Header().Get("WWW-Authenticate"), "insufficient_user_authentication") {
					t.Errorf("step-up without challenge: %q", w.Header().Get("WWW-Authenticate"))
				}
			}
		})
	}
}

// TestBadCredentials: every refused credential is a 401 and never anonymous.
func TestBadCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h := &ran{}
	public := f.mw.Authenticate(h) // a public route: anonymous passes

	alice := f.token("user:alice", false)
	carol := f.token("user:carol", false)
	expired := f.token("user:alice", false)
	revoked := f.token("user:alice", false)
	if err := f.sessions.Logout(f.ctx, revoked); err != nil {
		t.Fatal(err)
	}
	revokedKey := f.apiKey("permits-sync", apikey.Narrowing{})
	ks, err := f.keys.Keys(f.ctx, "permits-sync")
	if err != nil || len(ks) != 1 {
		t.Fatal(ks, err)
	}
	if err := f.keys.Revoke(f.ctx, ks[0].ID, "test"); err != nil {
		t.Fatal(err)
	}
	goodKey := f.apiKey("permits-sync", apikey.Narrowing{})
	parts := strings.Split(alice, ".")
	forged := `eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.` + parts[1] + "."

	cookie := func(v string) string { return f.mw.CookieName() + "=" + v }
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"none passes anonymous", http.Header{}, 204},
		{"malformed bearer", http.Header{"Authorization": {"Bearer not-a-token"}}, 401},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}, 401},
		{"basic scheme", http.Header{"Authorization": {"Basic YWxpY2U6cHc="}}, 401},
		{"alg none", http.Header{"Authorization": {"Bearer " + forged}}, 401},
		{"tampered", http.Header{"Authorization": {"Bearer " + alice[:len(alice)-3] + "AAA"}}, 401},
		{"oversized", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 64<<10)}}, 401},
		{"revoked session", http.Header{"Authorization": {"Bearer " + revoked}}, 401},
		{"revoked key", http.Header{"X-Api-Key": {revokedKey}}, 401},
		{"malformed key", http.Header{"X-Api-Key": {"civic_'; DROP TABLE keys;--"}}, 401},
		{"empty key header", http.Header{"X-Api-Key": {""}}, 401},
		{"two auth headers", http.Header{"Authorization": {"Bearer " + alice, "Bearer " + alice}}, 401},
		{"cookie and bearer disagree", http.Header{"Cookie": {cookie(alice)}, "Authorization": {"Bearer " + carol}}, 401},
		{"bearer and key disagree", http.Header{"Authorization": {"Bearer " + alice}, "X-Api-Key": {goodKey}}, 401},
		{"two cookies disagree", http.Header{"Cookie": {cookie(alice) + "; " + cookie(carol)}}, 401},
		{"cookie valid, bearer bad", http.Header{"Cookie": {cookie(alice)}, "Authorization": {"Bearer junk"}}, 401},
		{"cookie and bearer agree", http.Header{"Cookie": {cookie(alice)}, "Authorization": {"Bearer " + alice}}, 204},
		{"empty cookie", http.Header{"Cookie": {cookie("")}}, 401},
	}
	f.clk.advance(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.n.Load()
			r := httptest.NewRequest("GET", "/", nil)
			r.Header = tt.header.Clone()
			w := f.serve(public, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if (h.n.Load() != before) != (tt.want == 204) {
				t.Fatal("handler ran on a refusal, or not on success")
			}
			if tt.want == 401 {
				p := problem(t, w)
				if w.Header().Get("WWW-Authenticate") == "" || p.Type != iamhttp.ProblemUnauthenticated {
					t.Errorf("401 without challenge or with type %q", p.Type)
				}
				if strings.Contains(w.Body.String(), "DROP") || strings.Contains(w.Body.String(), "eyJ") {
					t.Errorf("problem echoes the credential: %s", w.Body)
				}
			}
		})
	}

	// Expiry: past the absolute lifetime the token is refused.
	f.clk.advance(13 * time.Hour)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+expired)
	if w := f.serve(public, r); w.Code != 401 {
		t.Fatalf("expired token: %d", w.Code)
	}
	if strings.Contains(f.logs.String(), alice) || strings.Contains(f.logs.String(), goodKey) {
		t.Error("a credential reached the log")
	}
}

func TestRefuseAnonymous(t *testing.T) {
	t.Parallel()
	f := newFixture(t, iamhttp.RefuseAnonymous())
	h := &ran{}
	w := f.serve(h, httptest.NewRequest("GET", "/", nil))
	if w.Code != 401 || h.n.Load() != 0 {
		t.Fatalf("anonymous with RefuseAnonymous: %d, ran %d", w.Code, h.n.Load())
	}
}

func TestCrossSiteCookieRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, iamhttp.WithTrustedOrigins("https://intranet.city.example"))
	h := &ran{}
	route := f.mw.Require("permits.application.approve", iamhttp.Fixed("dept:building"))(h)
	carol := f.token("user:carol", false)
	for _, tt := range []struct {
		name   string
		method string
		header http.Header
		want   int
	}{
		{"cross-site POST with cookie", "POST", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403},
		{"cross origin by Origin header", "POST", http.Header{"Origin": {"https://evil.example"}}, 403},
		{"same-origin POST", "POST", http.Header{"Sec-Fetch-Site": {"same-origin"}}, 204},
		{"trusted origin", "POST", http.Header{"Origin": {"https://intranet.city.example"}}, 204},
		{"cross-site GET is safe", "GET", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 204},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "https://civic.test/approve", nil)
			r.Header = tt.header.Clone()
			r.AddCookie(&http.Cookie{Name: f.mw.CookieName(), Value: carol})
			before := h.n.Load()
			w := f.serve(route, r)
			if w.Code != tt.want || (h.n.Load() != before) != (tt.want == 204) {
				t.Fatalf("status %d (want %d), ran %v", w.Code, tt.want, h.n.Load() != before)
			}
			if tt.want == 403 && problem(t, w).Type != iamhttp.ProblemCrossOrigin {
				t.Error("wrong problem type")
			}
		})
	}
	// A bearer token is not sent by a browser on its own: no CSRF check.
	r := httptest.NewRequest("POST", "https://civic.test/approve", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Authorization", "Bearer "+carol)
	if w := f.serve(route, r); w.Code != 204 {
		t.Fatalf("cross-site bearer: %d", w.Code)
	}
}

func TestStaleAnswers503(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h := &ran{}
	route := f.mw.Require("permits.application.read", iamhttp.Fixed("dept:building"))(h)
	var alice string
	req := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+alice)
		return f.serve(route, r)
	}
	alice = f.token("user:alice", false)
	if w := req(); w.Code != 204 {
		t.Fatalf("fresh: %d", w.Code)
	}
	f.src.cut()
	f.clk.advance(61 * time.Minute)
	_ = f.authz.Reload(f.ctx)
	alice = f.token("user:alice", false)
	// The session is refreshed from its store; only the policy is stale.
	w := req()
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || h.n.Load() != 1 {
		t.Fatalf("stale: %d, Retry-After %q, ran %d", w.Code, w.Header().Get("Retry-After"), h.n.Load())
	}
	if p := problem(t, w); p.Type != iamhttp.ProblemUnavailable {
		t.Errorf("type %q", p.Type)
	}
	f.authz.Close()
	if w := req(); w.Code != 503 {
		t.Fatalf("closed: %d", w.Code)
	}
}

func TestRequireAnyAll(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h := &ran{}
	read := iamhttp.Requirement{Permission: "permits.application.read", Scope: iamhttp.Fixed("dept:building")}
	approve := iamhttp.Requirement{Permission: "permits.application.approve", Scope: iamhttp.Fixed("dept:building")}
	bad := iamhttp.Requirement{Permission: "permits.application.read", Scope: iamhttp.Fixed("region:x")}
	alice, carol := f.token("user:alice", false), f.token("user:carol", false)
	for _, tt := range []struct {
		name  string
		route http.Handler
		tok   string
		want  int
	}{
		{"all, one denied", f.mw.RequireAll(read, approve)(h), alice, 403},
		{"all, both allowed", f.mw.RequireAll(read, approve)(h), carol, 204},
		{"any, one allowed", f.mw.RequireAny(approve, read)(h), alice, 204},
		{"any, none", f.mw.RequireAny(approve, approve)(h), alice, 403},
		{"any, bad scope outranks denial", f.mw.RequireAny(approve, bad)(h), alice, 400},
		{"all, bad scope", f.mw.RequireAll(read, bad)(h), carol, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+tt.tok)
			before := h.n.Load()
			w := f.serve(tt.route, r)
			if w.Code != tt.want || (h.n.Load() != before) != (tt.want == 204) {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
		})
	}
}

func TestLookupScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	depts := map[string]iam.Scope{"p1": "dept:building", "p2": "dept:finance"}
	find := func(_ context.Context, id string) (iam.Scope, error) {
		s, ok := depts[id]
		if !ok {
			return "", iamhttp.ErrNotFound
		}
		return s, nil
	}
	mux := http.NewServeMux()
	h := &ran{}
	mux.Handle("POST /permits/{id}/approve", f.mw.Require("permits.application.approve", iamhttp.Lookup("id", find))(h))
	carol := f.token("user:carol", false)
	for path, want := range map[string]int{"/permits/p1/approve": 204, "/permits/p2/approve": 403, "/permits/p9/approve": 404} {
		r := httptest.NewRequest("POST", path, nil)
		r.Header.Set("Authorization", "Bearer "+carol)
		if w := f.serve(mux, r); w.Code != want {
			t.Errorf("%s: %d, want %d", path, w.Code, want)
		}
	}
}

func TestPanicIs500WithoutDetail(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("db password is hunter2")
	})
	w := f.serve(boom, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 {
		t.Fatalf("status %d", w.Code)
	}
	p := problem(t, w)
	if strings.Contains(w.Body.String(), "hunter2") || p.Type != iamhttp.ProblemInternal {
		t.Fatalf("panic leaked or wrong type: %s", w.Body)
	}
	if !strings.Contains(f.logs.String(), p.RequestID) {
		t.Error("the log has no line with the request id")
	}
	// Abort panics keep their meaning.
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want ErrAbortHandler", v)
		}
	}()
	f.serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), httptest.NewRequest("GET", "/", nil))
}

func TestRequestIDNotInjected(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-Id", "abc\r\nSet-Cookie: x=1")
	route := f.mw.Require("permits.application.read", iamhttp.Fixed("org"))(&ran{})
	w := f.serve(route, r)
	p := problem(t, w)
	if strings.ContainsAny(p.RequestID, "\r\n:; ") {
		t.Fatalf("request id echoed: %q", p.RequestID)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-Id", "req-42")
	if p := problem(t, f.serve(route, r)); p.RequestID != "req-42" {
		t.Errorf("a safe request id is kept: %q", p.RequestID)
	}
}

func TestStartSessionRotates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	old := f.token("user:alice", false)
	_, next, err := f.sessions.Create(f.ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/login", nil)
	r.AddCookie(&http.Cookie{Name: f.mw.CookieName(), Value: old})
	w := httptest.NewRecorder()
	f.mw.StartSession(w, r, signin.Started{Token: next, Expires: t0.Add(time.Hour)})
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Value != next || !cs[0].Secure || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteLaxMode || cs[0].Path != "/" || !strings.HasPrefix(cs[0].Name, "__Host-") {
		t.Fatalf("cookie %+v", cs)
	}
	if _, err := f.sessions.Verify(f.ctx, old); err == nil {
		t.Fatal("the session presented at sign-in still works")
	}
	w = httptest.NewRecorder()
	f.mw.EndSession(w)
	if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Fatalf("end cookie %+v", cs)
	}
}

func TestReadOwnWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t, iamhttp.WithRevisionWait(50*time.Millisecond))
	h := &ran{}
	route := f.mw.Require("permits.application.approve", iamhttp.Fixed("dept:building"))(h)
	alice := f.token("user:alice", false)
	rev, err := f.src.Apply(f.ctx, rbac.Change{Grant: []rbac.Grant{{Subject: "user:alice", Role: "cbo", Scope: "dept:building"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+alice)
	r.Header.Set(iamhttp.RevisionHeader, strconv.FormatInt(rev, 10))
	w := f.serve(route, r)
	if w.Code != 204 || w.Header().Get(iamhttp.RevisionHeader) != strconv.FormatInt(rev, 10) {
		t.Fatalf("after waiting for revision %d: %d, header %q", rev, w.Code, w.Header().Get(iamhttp.RevisionHeader))
	}
	for _, bad := range []string{"-1", "x", "99999999999999999999", "1 2"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+alice)
		r.Header.Set(iamhttp.RevisionHeader, bad)
		if w := f.serve(route, r); w.Code != 400 {
			t.Errorf("revision %q: %d", bad, w.Code)
		}
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+alice)
	r.Header.Set(iamhttp.RevisionHeader, strconv.FormatInt(rev+100, 10))
	if w := f.serve(route, r); w.Code != 503 {
		t.Errorf("a revision never reached: %d", w.Code)
	}
}

func TestOptionsRefuseBadValues(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for name, opt := range map[string]iamhttp.Option{
		"cookie name": iamhttp.WithCookieName("a b"),
		"header":      iamhttp.WithAPIKeyHeader("Authorization"),
		"samesite":    iamhttp.WithSameSite(http.SameSiteNoneMode),
		"sources":     iamhttp.WithSources(),
		"dup sources": iamhttp.WithSources(iamhttp.Cookie, iamhttp.Cookie),
		"realm":       iamhttp.WithRealm(`x" y`),
		"origin":      iamhttp.WithTrustedOrigins("not a url"),
	} {
		if _, err := iamhttp.New(f.authz, opt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := iamhttp.New(nil); err == nil {
		t.Error("nil Authorizer accepted")
	}
}

// TestIAMErrorsFollowIAMsTable: an error of package iam is answered with
// iam.HTTPStatus and iam.PublicMessage, so the two packages never disagree.
func TestIAMErrorsFollowIAMsTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, err := range []error{iam.ErrDenied, iam.ErrStepUp, iam.ErrInvalidInput, iam.ErrNotFound, iam.ErrConflict,
		iam.ErrStale, iam.ErrClosed, iam.ErrReadOnly, &iam.DeniedError{Subject: "user:alice", Reason: "secret reason"},
		context.DeadlineExceeded} {
		w := httptest.NewRecorder()
		f.mw.Error(w, httptest.NewRequest("GET", "/", nil), err)
		p := problem(t, w)
		if p.Status != iam.HTTPStatus(err) || iamhttp.Status(err) != iam.HTTPStatus(err) {
			t.Errorf("%v: status %d, iam says %d", err, p.Status, iam.HTTPStatus(err))
		}
		if p.Detail != iam.PublicMessage(err) {
			t.Errorf("%v: detail %q, iam says %q", err, p.Detail, iam.PublicMessage(err))
		}
		if strings.Contains(w.Body.String(), "alice") || strings.Contains(w.Body.String(), "secret") {
			t.Errorf("%v: problem leaks the error's text: %s", err, w.Body)
		}
	}
}

// TestCrossSiteRefererRefused: a browser that sends neither Origin nor
// Sec-Fetch-Site (older browsers, some privacy settings) still names the
// page in Referer; an unsafe request with the session cookie from another
// site's page is refused with every unsafe method, and a request from the
// service's own pages or a trusted origin passes.
func TestCrossSiteRefererRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, iamhttp.WithTrustedOrigins("https://intranet.city.example"))
	h := &ran{}
	route := f.mw.Require("permits.application.approve", iamhttp.Fixed("dept:building"))(h)
	carol := f.token("user:carol", false)
	for _, tt := range []struct {
		method, referer string
		want            int
	}{
		{"POST", "https://evil.example/page", 403},
		{"PUT", "https://evil.example/page", 403},
		{"PATCH", "http://civic.test.evil.example/", 403},
		{"DELETE", "https://evil.example/", 403},
		{"POST", "https://CIVIC.test.evil.example/x", 403},
		{"POST", "::not a url", 403},
		{"POST", "https://civic.test/form", 204},
		{"POST", "https://intranet.city.example/app", 204},
		{"GET", "https://evil.example/page", 204},
		{"POST", "", 204}, // a non-browser client sends none of the three
	} {
		t.Run(tt.method+" "+tt.referer, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "https://civic.test/approve", nil)
			if tt.referer != "" {
				r.Header.Set("Referer", tt.referer)
			}
			r.AddCookie(&http.Cookie{Name: f.mw.CookieName(), Value: carol})
			before := h.n.Load()
			w := f.serve(route, r)
			if w.Code != tt.want || (h.n.Load() != before) != (tt.want == 204) {
				t.Fatalf("status %d (want %d), ran %v", w.Code, tt.want, h.n.Load() != before)
			}
			if tt.want == 403 && problem(t, w).Type != iamhttp.ProblemCrossOrigin {
				t.Error("wrong problem type")
			}
		})
	}
}
