package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// browser is a real HTTP client with its own cookie jar.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	c := *srv.Client()
	c.Jar = jar
	return &browser{t: t, c: &c, base: srv.URL}
}

func (b *browser) do(method, path, body string, header ...string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

func (b *browser) login(user string) {
	b.t.Helper()
	if code, body := b.do("POST", "/login", `{"Email":"`+user+`@city.example","Password":"`+demoPassword+`"}`); code != 200 {
		b.t.Fatalf("login %s: %d %s", user, code, body)
	}
}

// TestEndToEnd drives the service over real HTTPS with cookie sessions, on
// the embedded SQLite store as main runs it.
func TestEndToEnd(t *testing.T) {
	svc, err := setup(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.close()
	srv := httptest.NewTLSServer(svc.app.Handler())
	defer srv.Close()

	anon := newBrowser(t, srv)
	if code, _ := anon.do("GET", "/permits", ""); code != 401 {
		t.Fatalf("anonymous list: %d", code)
	}
	if code, _ := anon.do("POST", "/login", `{"Email":"clara@city.example","Password":"wrong"}`); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}

	clara := newBrowser(t, srv)
	clara.login("clara")
	code, body := clara.do("GET", "/permits", "")
	var ps []Permit
	if err := json.Unmarshal([]byte(body), &ps); code != 200 || err != nil || len(ps) != 2 {
		t.Fatalf("clerk list: %d %s", code, body)
	}
	if strings.Contains(body, "046 454 286") || !strings.Contains(body, "***-***-***") {
		t.Fatalf("a clerk saw a SIN: %s", body)
	}
	if code, _ := clara.do("POST", "/permits/BP-1001/approve", "", "Sec-Fetch-Site", "same-origin"); code != 403 {
		t.Fatalf("clerk approve: %d", code)
	}

	sam := newBrowser(t, srv)
	sam.login("sam")
	if _, body := sam.do("GET", "/permits", ""); !strings.Contains(body, "046 454 286") || strings.Contains(body, "193 456 787") {
		t.Fatalf("supervisor list: %s", body)
	}
	// A cross-site form post riding on the supervisor's cookie is refused.
	if code, _ := sam.do("POST", "/permits/BP-1001/approve", "", "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Fatalf("cross-site approve: %d", code)
	}
	if code, body := sam.do("POST", "/permits/BP-1001/approve", "", "Sec-Fetch-Site", "same-origin"); code != 200 {
		t.Fatalf("supervisor approve: %d %s", code, body)
	}
	if code, _ := sam.do("POST", "/permits/PL-2001/approve", ""); code != 403 {
		t.Fatalf("approve in another department: %d", code)
	}

	// The department admin promotes clara; her next request sees it.
	ada := newBrowser(t, srv)
	ada.login("ada")
	if code, body := ada.do("POST", "/admin/departments/building/roles/permit-supervisor/members/clara", ""); code != 200 {
		t.Fatalf("assign: %d %s", code, body)
	}
	if code, body := clara.do("POST", "/permits/BP-1002/approve", ""); code != 200 {
		t.Fatalf("approve after promotion: %d %s", code, body)
	}

	// Logout ends the session; the old cookie no longer works.
	if code, _ := clara.do("POST", "/logout", ""); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := clara.do("GET", "/permits", ""); code != 401 {
		t.Fatalf("after logout: %d", code)
	}
}

// TestLoginRefusesFormsAndAmbiguousBodies: another site's page can post a
// form (text/plain, urlencoded) without a CORS preflight; a login it sent
// would sign the victim's browser in as the attacker. Only application/json
// signs in, and a body with a key given twice or trailing data is refused.
func TestLoginRefusesFormsAndAmbiguousBodies(t *testing.T) {
	svc, err := setup(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.close()
	srv := httptest.NewTLSServer(svc.app.Handler())
	defer srv.Close()
	good := `{"Email":"clara@city.example","Password":"` + demoPassword + `"}`
	for _, tt := range []struct{ name, ctype, body string }{
		{"text/plain form", "text/plain", good},
		{"urlencoded form", "application/x-www-form-urlencoded", good},
		{"multipart", "multipart/form-data; boundary=x", good},
		{"no content type", "", good},
		{"utf-16", "application/json; charset=utf-16", good},
		{"duplicate key", "application/json", `{"Email":"nobody@city.example","email":"clara@city.example","Password":"` + demoPassword + `"}`},
		{"trailing data", "application/json", good + ` {"x":1}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, srv)
			code, _ := b.do("POST", "/login", tt.body, "Content-Type", tt.ctype)
			if code == 200 || code < 400 || code >= 500 {
				t.Fatalf("status %d", code)
			}
			if cs := b.c.Jar.Cookies(mustParse(t, srv.URL)); len(cs) != 0 {
				t.Fatalf("signed in: %v", cs)
			}
		})
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
