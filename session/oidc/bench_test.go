package oidc_test

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkSignIn measures a whole SSO sign-in as a browser sees it, over
// loopback HTTP with a cookie jar: begin (state, PKCE, cookie), the
// provider's authorize endpoint and login form, the redirect back, the
// code exchange, ID token verification, linking, the group mapping and
// the session. The provider runs in the same process, so its work is
// included.
func BenchmarkSignIn(b *testing.B) {
	e := newEnv(b, envOpts{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := e.idp.Login(ctx, browser(b), e.srv.URL+"/login?return=/me", staff.Username, staff.Password)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
