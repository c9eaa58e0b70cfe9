package saml_test

import (
	"context"
	"io"
	"net/http"
	"testing"
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
