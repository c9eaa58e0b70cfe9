package oidc_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	b := browser(t)
	resp, err := e.idp.Login(ctx, b, e.srv.URL+"/login?return=/me", staff.Username, staff.Password)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "user:sam.girard@lakeview.ca oidc multi-factor" {
		t.Fatalf("after sign-in: %d %q", resp.StatusCode, body)
	}
	d, err := e.authz.Check(ctx, "user:sam.girard@lakeview.ca", "bylaw.ticket.create", "dept:bylaw")
	if err != nil || !d.Allowed {
		t.Errorf("group mapping: %+v %v", d, err)
	}
	if e.events.count("sso.signed_in") != 1 {
		t.Error("no sso.signed_in event")
	}
	// The sign-in's binding cookie is gone; the session cookie is
	// HttpOnly (the jar does not say) and present.
	srvURL, _ := url.Parse(e.srv.URL)
	names := []string{}
	for _, c := range b.Jar.Cookies(srvURL) {
		names = append(names, c.Name)
		if strings.Contains(c.Name, "sso-oidc-") {
			t.Errorf("binding cookie %s left after the sign-in", c.Name)
		}
	}
	if !slices.Contains(names, "session") {
		t.Errorf("cookies %v, want a session cookie", names)
	}
	// A cross-site GET (an image, a link) does not log out.
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut} {
		req, _ := http.NewRequestWithContext(ctx, m, e.srv.URL+"/logout", nil)
		resp, err = b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /logout = %d, want 405", m, resp.StatusCode)
		}
	}
	resp, err = b.Get(e.srv.URL + "/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after a GET /logout, /me = %d, want the session alive", resp.StatusCode)
	}
	// RP-initiated logout ends the local session and goes through the
	// provider's end-session endpoint back to us.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/logout", nil)
	resp, err = b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(resp.Request.URL.String(), e.srv.URL+"/bye") || string(body) != "signed out" {
		t.Errorf("logout ended at %s: %q", resp.Request.URL, body)
	}
	resp, err = b.Get(e.srv.URL + "/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout /me = %d", resp.StatusCode)
	}
}
