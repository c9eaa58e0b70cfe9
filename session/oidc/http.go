package oidc

import (
	"net/http"
	"net/url"

	"github.com/civic-platform/security/session/sso"
)

// CookieResponder is the default [Responder] ([sso.CookieResponder]).
type CookieResponder = sso.CookieResponder

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
	name := CookieResponder{}.CookieName()
	if cr, ok := rp.o.responder.(CookieResponder); ok {
		name = cr.CookieName()
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
