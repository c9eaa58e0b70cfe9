package saml_test

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkSignIn measures a whole SP-initiated SAML sign-in as a browser
// sees it, over loopback HTTP with a cookie jar: the AuthnRequest
// redirect, the IdP's login form (bcrypt), the signed response posted
// back, every check, linking, mapping and the session. The IdP runs in
// the same process, so its work (signing, bcrypt) is included.
func BenchmarkSignIn(b *testing.B) {
	e := newEnv(b, envOpts{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := e.idp.Login(ctx, browser(b), e.srv.URL+"/saml/login?return=/me", officer.Name, officer.Password)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
