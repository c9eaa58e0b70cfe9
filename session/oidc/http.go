package oidc

import (
	"net/http"
	"net/url"

	"github.com/civic-platform/security/session/sso"
)

// CookieResponder is the default [Responder]: on success it sets the
// session token in an HttpOnly, SameSite=Lax cookie (Secure over TLS
// or with Secure set) and redirects to the return path; on failure it
// answers 401 with a fixed message, whatever the reason.
type CookieResponder struct {
	// Cookie is the session cookie's name; default "session".
	Cookie string
	// Secure marks the cookie Secure even when the request reached this
	// process without TLS (behind a TLS-terminating proxy). New sets it
	// for the default responder when the callback URL is https.
	Secure bool
}

func (c CookieResponder) name() string {
	if c.Cookie == "" {
		return "session"
	}
	return c.Cookie
}

// SignedIn implements [Responder].
func (c CookieResponder) SignedIn(w http.ResponseWriter, r *http.Request, res sso.Result, returnTo string) {
	http.SetCookie(w, &http.Cookie{Name: c.name(), Value: res.Token, Path: "/", HttpOnly: true,
		Secure: c.Secure || r.TLS != nil, SameSite: http.SameSiteLaxMode, Expires: res.Session.Expires})
	http.Redirect(w, r, localPath(returnTo), http.StatusSeeOther)
}

// Failed implements [Responder].
func (c CookieResponder) Failed(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, "sign-in failed", http.StatusUnauthorized)
}

// LogoutURL returns the provider's end-session URL for RP-initiated
// logout, with the client id and the configured post-logout redirect, or
// "" if the provider publishes no end_session_endpoint.
func (rp *RelyingParty) LogoutURL() string {
	if rp.endSession == "" {
		return ""
	}
	u, err := url.Parse(rp.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", rp.cfg.ClientID)
	if rp.cfg.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", rp.cfg.PostLogoutRedirectURL)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Logout is the HTTP handler for RP-initiated logout (POST only; other
// methods get 405 and change nothing): it ends the
// local session named by the cookie (with [WithSessionEnder]), clears the
// cookie, and redirects the browser to the provider's end-session
// endpoint (or to the post-logout URL if the provider has none).
func (rp *RelyingParty) Logout(w http.ResponseWriter, r *http.Request) {
	// Only a POST (a form of this application) logs out: a GET could be
	// an image or a link on another site ending the session.
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := CookieResponder{}.name()
	if cr, ok := rp.o.responder.(CookieResponder); ok {
		name = cr.name()
	}
	if c, err := r.Cookie(name); err == nil && rp.o.ender != nil {
		// An unknown or ended session is already logged out.
		_ = rp.o.ender.Logout(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: rp.secure || r.TLS != nil, SameSite: http.SameSiteLaxMode})
	target := rp.LogoutURL()
	if target == "" {
		target = rp.cfg.PostLogoutRedirectURL
	}
	if target == "" {
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
