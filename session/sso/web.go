package sso

import (
	"net/http"
	"net/url"
	"strings"
)

// Responder writes the browser's answer at the end of a sign-in through
// any protocol (session/oidc's Callback, session/saml's ACS).
type Responder interface {
	// SignedIn is called after a session was created; returnTo is the
	// local path the sign-in began from ("/" by default).
	SignedIn(w http.ResponseWriter, r *http.Request, res Result, returnTo string)
	// Failed is called with the refusal; it must not show err to the
	// browser in detail.
	Failed(w http.ResponseWriter, r *http.Request, err error)
}

// CookieResponder is the default [Responder]: on success it sets the
// session token in an HttpOnly, SameSite=Lax cookie (Secure over TLS or
// with Secure set) and redirects (303) to the return path, made local with
// [LocalPath]; on failure it answers 401 with a fixed message, whatever the
// reason.
type CookieResponder struct {
	// Cookie is the session cookie's name; default "session".
	Cookie string
	// Secure marks the cookie Secure even when the request reached this
	// process without TLS (behind a TLS-terminating proxy). The protocol
	// packages set it for their default responder when the callback URL is
	// https.
	Secure bool
}

// CookieName is the session cookie's name: Cookie, or "session".
func (c CookieResponder) CookieName() string {
	if c.Cookie == "" {
		return "session"
	}
	return c.Cookie
}

// SignedIn implements [Responder].
func (c CookieResponder) SignedIn(w http.ResponseWriter, r *http.Request, res Result, returnTo string) {
	http.SetCookie(w, &http.Cookie{Name: c.CookieName(), Value: res.Token, Path: "/", HttpOnly: true,
		Secure: c.Secure || r.TLS != nil, SameSite: http.SameSiteLaxMode, Expires: res.Session.Expires})
	http.Redirect(w, r, LocalPath(returnTo), http.StatusSeeOther)
}

// Failed implements [Responder].
func (c CookieResponder) Failed(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, "sign-in failed", http.StatusUnauthorized)
}

// LocalPath returns p if it is a local absolute path on this site, else
// "/": the return path after a sign-in can never send the browser to
// another site (no scheme, no host, no "//" or "/\" prefix, no control
// characters, at most 512 bytes).
func LocalPath(p string) string {
	if p == "" || len(p) > 512 || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.IsAbs() || u.Host != "" {
		return "/"
	}
	return p
}
