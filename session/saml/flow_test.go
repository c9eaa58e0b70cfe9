package saml_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/civic-platform/security/session/saml"
	"github.com/civic-platform/security/session/saml/samltest"
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

// TestIdPInitiated: a genuinely unsolicited response from the IdP is
// refused by default and accepted only when configured.
func TestIdPInitiated(t *testing.T) {
	t.Parallel()
	for _, allow := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[allow], func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{recorder: true, cfg: func(c *saml.Config) { c.AllowIdPInitiated = allow }})
			if err := e.idp.AddShortcut("permits", e.srv.URL+"/saml/metadata"); err != nil {
				t.Fatal(err)
			}
			b := browser(t)
			acs, form, err := e.idp.Initiate(context.Background(), b, "permits", officer.Name, officer.Password)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := samltest.Post(context.Background(), b, acs, form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got, ok := e.rec.last()
			if allow && ok != 1 {
				t.Fatalf("IdP-initiated sign-in refused although allowed: %v", got)
			}
			if !allow && (ok != 0 || !errors.Is(got, saml.ErrUnsolicited)) {
				t.Fatalf("err = %v (signed in %d), want ErrUnsolicited", got, ok)
			}
		})
	}
}
