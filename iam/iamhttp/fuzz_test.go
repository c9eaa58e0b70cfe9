package iamhttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
)

// FuzzScopeFromPath: whatever the path value, the handler runs only for a
// well-formed scope the caller holds, and a refusal is a 4xx problem.
func FuzzScopeFromPath(f *testing.F) {
	for _, s := range []string{"dept:building", "ward:7", "ward:7'--", "../", "org", "dept:", ":x", "dept:bu\u0456lding", "dept:building\x00", "ward:7 OR 1=1"} {
		f.Add(s)
	}
	fx := newFixture(f)
	carol := fx.token("user:carol", false)
	h := &ran{}
	route := fx.mw.Require("permits.application.read", func(r *http.Request) (iam.Scope, error) {
		return iamhttp.FromPath("", "scope")(r)
	})(h)
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.SetPathValue("scope", v)
		r.Header.Set("Authorization", "Bearer "+carol)
		before := h.n.Load()
		w := fx.serve(route, r)
		ranNow := h.n.Load() != before
		valid := iam.Scope(v).Validate() == nil && len(v) <= iamhttp.MaxScopeLen
		switch {
		case w.Code == 204:
			if !ranNow || !valid {
				t.Fatalf("%q: 204 with ran=%v valid=%v", v, ranNow, valid)
			}
		case w.Code == 400 || w.Code == 403:
			if ranNow {
				t.Fatalf("%q: handler ran on %d", v, w.Code)
			}
			if w.Code == 400 && valid {
				t.Fatalf("%q: valid scope refused as malformed", v)
			}
		default:
			t.Fatalf("%q: status %d", v, w.Code)
		}
	})
}

// FuzzCredentialHeaders: no header value authenticates or crashes; each is
// anonymous (absent), or refused with 401.
func FuzzCredentialHeaders(f *testing.F) {
	for _, s := range []string{"Bearer x", "Bearer ", "bearer civic_", "Basic abc", "Bearer eyJhbGciOiJub25lIn0.e30.", ""} {
		f.Add(s, "civic_aaaaaaaaaaaaaaaa_bbbb")
	}
	fx := newFixture(f)
	h := &ran{}
	route := fx.mw.Authenticate(h)
	f.Fuzz(func(t *testing.T, authz, key string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{authz}
		r.Header["X-Api-Key"] = []string{key}
		before := h.n.Load()
		w := httptest.NewRecorder()
		route.ServeHTTP(w, r)
		if h.n.Load() != before || w.Code != 401 {
			t.Fatalf("Authorization %q, key %q: status %d, ran %v", authz, key, w.Code, h.n.Load() != before)
		}
	})
}
