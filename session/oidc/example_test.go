package oidc_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"

	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/oidc"
	"github.com/civic-platform/security/session/oidc/oidctest"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
)

// A relying party for an Entra-like provider (here a real provider running
// in-process), mounted at the two URLs the REST API uses.
func ExampleRelyingParty() {
	ctx := context.Background()
	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	defer app.Close()
	callback := app.URL + "/api/v1/auth/sso/oidc/callback"

	idp, err := oidctest.New(oidctest.Config{Tenant: "5b2f7c1e-3a4d-4e8f-9a0b-1c2d3e4f5a6b", ClientID: "permits", ClientSecret: "s3cret",
		RedirectURIs: []string{callback}, Users: []oidctest.User{{Username: "julie", Password: "pw", ID: "u1",
			OID: "0f1e2d3c-0000-4000-8000-000000000001", Email: "julie.tremblay@lakeview.ca", EmailVerified: true, AMR: []string{"pwd", "mfa"}}}})
	if err != nil {
		fmt.Println("provider:", err)
		return
	}
	defer idp.Close()

	key, err := session.GenerateKey(session.EdDSA, "k1")
	if err != nil {
		fmt.Println(err)
		return
	}
	ring, err := session.NewKeyring(key)
	if err != nil {
		fmt.Println(err)
		return
	}
	sessions, err := session.New(session.NewMemoryStore(), ring)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sessions.Close()
	accounts, err := sso.New(signin.NewMemStore(), sso.NewMemLinks(), sessions, []sso.Provider{{
		Name: "entra", JIT: &sso.JIT{Domains: []string{"lakeview.ca"}},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	rp, err := oidc.New(ctx, oidc.Config{Provider: "entra", Issuer: idp.Issuer(), Entra: true,
		ClientID: "permits", ClientSecret: "s3cret", RedirectURL: callback}, accounts)
	if err != nil {
		fmt.Println("relying party:", err)
		return
	}
	mux.HandleFunc("GET /api/v1/auth/sso/oidc/login", rp.Begin)
	mux.HandleFunc("GET /api/v1/auth/sso/oidc/callback", rp.Callback)
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		s, err := sessions.Verify(r.Context(), c.Value)
		if err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, s.Subject, s.Methods, s.Level)
	})

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := idp.Login(ctx, browser, app.URL+"/api/v1/auth/sso/oidc/login?return=/me", "julie", "pw")
	if err != nil {
		fmt.Println("sign-in:", err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output: user:julie.tremblay@lakeview.ca oidc multi-factor
}
