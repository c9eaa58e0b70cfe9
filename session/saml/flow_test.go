package saml_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/civic-platform/security/session/saml"
)

func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	resp, err := e.idp.Login(ctx, browser(t), e.srv.URL+"/saml/login?return=/me", officer.Name, officer.Password)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "user:sam.girard@lakeview.ca saml single-factor" {
		t.Fatalf("after sign-in: %d %q", resp.StatusCode, body)
	}
	d, err := e.authz.Check(ctx, "user:sam.girard@lakeview.ca", "bylaw.ticket.create", "dept:bylaw")
	if err != nil || !d.Allowed {
		t.Errorf("group mapping: %+v %v", d, err)
	}
}

// TestMFAContext: an AuthnContextClassRef configured as multi-factor
// gives a multi-factor session.
func TestMFAContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: func(c *saml.Config) {
		c.MFAContexts = []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}
	}})
	resp, err := e.idp.Login(context.Background(), browser(t), e.srv.URL+"/saml/login?return=/me", officer.Name, officer.Password)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "user:sam.girard@lakeview.ca saml multi-factor" {
		t.Fatalf("/me = %q", body)
	}
}

func TestMetadataHandler(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	resp, err := http.Get(e.srv.URL + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `entityID="`+e.srv.URL+`/saml/metadata"`) ||
		!strings.Contains(string(body), e.srv.URL+"/saml/acs") {
		t.Fatalf("metadata: %d %s", resp.StatusCode, body)
	}
}
