package saml_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"

	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/saml"
	"github.com/civic-platform/security/session/saml/samltest"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
)

// A service provider for the city's SAML IdP (here a real IdP running
// in-process), mounted at the URLs the REST API uses.
func ExampleServiceProvider() {
	ctx := context.Background()
	mux := http.NewServeMux()
	app := httptest.NewServer(mux)
	defer app.Close()

	idp, err := samltest.New(samltest.User{Name: "julie", Password: "pw", Email: "julie.tremblay@lakeview.ca"})
	if err != nil {
		fmt.Println("idp:", err)
		return
	}
	defer idp.Close()
	idpMetadata, err := idp.Metadata() // in production: a file from the IdP's administrators
	if err != nil {
		fmt.Println(err)
		return
	}

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
		Name: "adfs", JIT: &sso.JIT{Domains: []string{"lakeview.ca"}},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	sp, err := saml.New(saml.Config{Provider: "adfs", EntityID: app.URL + "/api/v1/auth/sso/saml/metadata",
		ACSURL: app.URL + "/api/v1/auth/sso/saml/callback", IdPMetadata: idpMetadata, EmailVerified: true}, accounts)
	if err != nil {
		fmt.Println("service provider:", err)
		return
	}
	mux.HandleFunc("GET /api/v1/auth/sso/saml/metadata", sp.MetadataHandler)
	mux.HandleFunc("GET /api/v1/auth/sso/saml/login", sp.Begin)
	mux.HandleFunc("POST /api/v1/auth/sso/saml/callback", sp.ACS)
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
	spMetadata, err := sp.Metadata()
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := idp.AddServiceProvider("permits", spMetadata); err != nil {
		fmt.Println(err)
		return
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := idp.Login(ctx, browser, app.URL+"/api/v1/auth/sso/saml/login?return=/me", "julie", "pw")
	if err != nil {
		fmt.Println("sign-in:", err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output: user:julie.tremblay@lakeview.ca saml single-factor
}
