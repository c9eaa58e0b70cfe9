package oidctest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/civic-platform/security/session/oidc/oidctest"
)

// Example starts an Entra-shaped OpenID Connect provider on the loopback
// interface, as a test of session/oidc does, and reads its discovery
// document: the issuer carries the tenant, and the document names the
// endpoints a relying party uses.
func Example() {
	idp, err := oidctest.New(oidctest.Config{
		Tenant:       "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f",
		ClientID:     "permits",
		ClientSecret: "test-only-secret",
		RedirectURIs: []string{"http://127.0.0.1/callback"},
		Users:        []oidctest.User{{Username: "sam", Password: "test-only-password"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer idp.Close()

	resp, err := http.Get(idp.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer   string   `json:"issuer"`
		Auth     string   `json:"authorization_endpoint"`
		Token    string   `json:"token_endpoint"`
		JWKS     string   `json:"jwks_uri"`
		SignAlgs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("status:", resp.StatusCode)
	fmt.Println("issuer matches:", doc.Issuer == idp.Issuer())
	fmt.Println("tenant in issuer:", strings.HasSuffix(doc.Issuer, "/0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f/v2.0"))
	fmt.Println("endpoints:", doc.Auth != "", doc.Token != "", doc.JWKS != "")
	fmt.Println("signing:", doc.SignAlgs)
	// Output:
	// status: 200
	// issuer matches: true
	// tenant in issuer: true
	// endpoints: true true true
	// signing: [RS256]
}
