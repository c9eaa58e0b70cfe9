package iamhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/signin"
)

// Middleware authenticates requests and requires permissions. Build one
// with [New] and share it.
type Middleware struct {
	authz *iam.Authorizer
	o     options
	cop   *http.CrossOriginProtection
	rev   atomic.Pointer[revHeader] // the X-Policy-Revision value last sent
}

// New returns a Middleware that decides with authz. Give it the session
// and API-key managers that verify credentials ([WithSessions],
// [WithAPIKeys]).
func New(authz *iam.Authorizer, opts ...Option) (*Middleware, error) {
	if authz == nil {
		return nil, errors.New("iamhttp: New: nil Authorizer")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.err != nil {
		return nil, o.err
	}
	if o.insecure {
		o.cookieName = strings.TrimPrefix(o.cookieName, "__Host-")
		if o.cookieName == "" {
			o.cookieName = "civic-session"
		}
	}
	cop := http.NewCrossOriginProtection()
	for _, origin := range o.trusted {
		if err := cop.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("iamhttp: trusted origin: %w", err)
		}
	}
	// A refusal goes through our problem writer, not the default text.
	m := &Middleware{authz: authz, o: o, cop: cop}
	return m, nil
}

// CookieName returns the name of the session cookie.
func (m *Middleware) CookieName() string { return m.o.cookieName }

// Authenticate verifies the request's credentials and calls next with the
// [Caller] in the request context ([Principal]). A request without any
// credential goes on anonymous (or is refused with 401 after
// [RefuseAnonymous]). A credential that does not verify is refused with 401
// — never treated as anonymous — and so are two credentials that name
// different subjects, or one source presented twice with different values.
// A request carrying the session cookie must pass the cross-origin check
// (403 otherwise): http.CrossOriginProtection, and for an unsafe request
// with neither Origin nor Sec-Fetch-Site, its Referer. A panic in next is answered with a 500 problem and
// logged; nothing of it reaches the client.
func (m *Middleware) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One allocation holds the writer and the caller.
		st := &requestState{rw: recoverWriter{ResponseWriter: w}}
		rw := &st.rw
		served := r // the request the mux saw, which carries the route pattern
		if t := m.o.telemetry; t != nil {
			ctx, end := t.StartRequest(r)
			r = r.WithContext(ctx)
			served = r
			defer func() { end(rw.statusCode(), served.Pattern) }()
		}
		defer m.recover(rw, r)
		found, err := m.authenticate(r, &st.caller)
		if err != nil {
			m.fail(rw, r, err, 0)
			return
		}
		if !found {
			if m.o.refuseAnon {
				m.fail(rw, r, errUnauthenticated, 0)
				return
			}
			next.ServeHTTP(rw, r)
			return
		}
		served = r.WithContext(context.WithValue(r.Context(), callerKey{}, &st.caller))
		next.ServeHTTP(rw, served)
	})
}

// Recover answers a panic in next with a 500 problem, logs it, and keeps
// the server running. [Middleware.Authenticate] already includes it; use it
// for routes served without authentication.
func (m *Middleware) Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &recoverWriter{ResponseWriter: w}
		defer m.recover(rw, r)
		next.ServeHTTP(rw, r)
	})
}

func (m *Middleware) recover(w *recoverWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	if w.wrote {
		// The status is gone; abort the connection so the client sees a
		// broken response rather than a truncated success.
		m.o.logger.ErrorContext(r.Context(), "iamhttp: handler panicked after writing", "panic", fmt.Sprint(v), "path", r.URL.Path)
		panic(http.ErrAbortHandler)
	}
	m.fail(w, r, fmt.Errorf("%w: %v", errPanic, v), 0)
}

// recoverWriter notes whether the handler has started its response.
type recoverWriter struct {
	http.ResponseWriter
	wrote  bool
	status int
}

func (w *recoverWriter) WriteHeader(code int) {
	if code >= 200 && !w.wrote {
		w.wrote = true
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recoverWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.wrote = true
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// statusCode is the status sent, or 200 for a handler that sent nothing.
func (w *recoverWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *recoverWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestState is what Authenticate keeps per request.
type requestState struct {
	rw     recoverWriter
	caller Caller
}

// authenticate fills first from the request's credentials and reports
// whether there was any.
func (m *Middleware) authenticate(r *http.Request, first *Caller) (bool, error) {
	found := false
	sawCookie := false
	for _, src := range m.o.sources {
		raw, present, err := m.credential(r, src)
		if err != nil {
			return false, err
		}
		if !present {
			continue
		}
		if src == Cookie {
			sawCookie = true
		}
		c, err := m.verify(r.Context(), src, raw)
		if err != nil {
			return false, fmt.Errorf("%s credential: %w", src, err)
		}
		if !found {
			*first, found = c, true
			continue
		}
		if c.Subject != first.Subject {
			return false, fmt.Errorf("%w (%s and %s)", errConflicting, first.Source, src)
		}
	}
	if sawCookie {
		if err := m.cop.Check(r); err != nil {
			return false, fmt.Errorf("%w: %w", errCrossOrigin, err)
		}
		if err := m.checkReferer(r); err != nil {
			return false, err
		}
	}
	return found, nil
}

// checkReferer covers the browsers http.CrossOriginProtection lets
// through: an unsafe request that carries neither Sec-Fetch-Site nor
// Origin but names its page in Referer must come from this host or a
// trusted origin. A request without any of the three is not from a
// browser form and passes, as with CrossOriginProtection.
func (m *Middleware) checkReferer(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Header.Get("Sec-Fetch-Site") != "" || r.Header.Get("Origin") != "" {
		return nil // CrossOriginProtection decided on them
	}
	ref := r.Header.Get("Referer")
	if ref == "" {
		return nil
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: unreadable Referer", errCrossOrigin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	origin := u.Scheme + "://" + u.Host
	for _, t := range m.o.trusted {
		if strings.EqualFold(strings.TrimSuffix(t, "/"), origin) {
			return nil
		}
	}
	return fmt.Errorf("%w: Referer from another site", errCrossOrigin)
}

// credential reads one source. A source given twice with different values
// is refused: a proxy or a cookie injected for a parent domain must not
// choose which of two the server believes.
func (m *Middleware) credential(r *http.Request, src Source) (raw string, present bool, err error) {
	switch src {
	case Cookie:
		cs := r.CookiesNamed(m.o.cookieName)
		if len(cs) == 0 {
			return "", false, nil
		}
		for _, c := range cs[1:] {
			if c.Value != cs[0].Value {
				return "", false, fmt.Errorf("%w: two session cookies", errConflicting)
			}
		}
		if cs[0].Value == "" {
			return "", false, fmt.Errorf("%w: empty session cookie", errUnauthenticated)
		}
		return cs[0].Value, true, nil
	case Bearer:
		hs := r.Header["Authorization"]
		if len(hs) == 0 {
			return "", false, nil
		}
		if len(hs) > 1 {
			return "", false, fmt.Errorf("%w: two Authorization headers", errConflicting)
		}
		scheme, tok, ok := strings.Cut(hs[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", false, fmt.Errorf("%w: Authorization is not a bearer credential", errUnauthenticated)
		}
		return tok, true, nil
	case APIKeyHeader:
		hs := r.Header[m.o.keyHeader]
		if len(hs) == 0 {
			return "", false, nil
		}
		if len(hs) > 1 {
			return "", false, fmt.Errorf("%w: two API key headers", errConflicting)
		}
		if hs[0] == "" {
			return "", false, fmt.Errorf("%w: empty API key header", errUnauthenticated)
		}
		return hs[0], true, nil
	}
	return "", false, nil
}

func (m *Middleware) verify(ctx context.Context, src Source, raw string) (Caller, error) {
	isKey := src == APIKeyHeader || (src == Bearer && strings.HasPrefix(raw, apikey.Prefix))
	if isKey {
		if m.o.keys == nil {
			return Caller{}, fmt.Errorf("%w: API keys are not accepted here", apikey.ErrUnknownKey)
		}
		p, err := m.o.keys.Verify(ctx, raw)
		if err != nil {
			return Caller{}, err
		}
		return Caller{Subject: p.Subject, KeyID: p.KeyID, Methods: session.Methods(0).With(session.MethodAPIKey),
			Level: session.LevelPassword, MFA: session.MFANotRequired, Source: src, key: &p}, nil
	}
	if m.o.sessions == nil {
		return Caller{}, &session.TokenError{Kind: session.ErrUnknownKey}
	}
	s, err := m.o.sessions.Verify(ctx, raw)
	if err != nil {
		return Caller{}, err
	}
	return Caller{Subject: iam.Subject(s.Subject), SessionID: s.ID, Methods: s.Methods, Level: s.Level,
		MFA: s.MFA, Source: src, token: raw}, nil
}

// StartSession sets the cookie for a session a handler has just started
// (signin.Service.SignIn, session.Manager.Create, CompleteMFA) and ends the
// session the request presented, if any, so the old session id stops
// working at sign-in. It sets Cache-Control: no-store on the response.
func (m *Middleware) StartSession(w http.ResponseWriter, r *http.Request, started signin.Started) {
	if m.o.sessions != nil {
		for _, c := range r.CookiesNamed(m.o.cookieName) {
			if c.Value != "" && c.Value != started.Token {
				_ = m.o.sessions.Logout(r.Context(), c.Value) // ends it if it was one of ours
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	http.SetCookie(w, m.cookie(started.Token, started.Expires))
}

// EndSession clears the session cookie (after session.Manager.Logout).
func (m *Middleware) EndSession(w http.ResponseWriter) {
	c := m.cookie("", time.Unix(0, 0))
	c.MaxAge = -1
	w.Header().Set("Cache-Control", "no-store")
	http.SetCookie(w, c)
}

func (m *Middleware) cookie(value string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     m.o.cookieName,
		Value:    value,
		Path:     "/",
		Expires:  expires,
		Secure:   !m.o.insecure,
		HttpOnly: true,
		SameSite: m.o.sameSite,
	}
}

func retryAfterLocked(err error, now time.Time) int {
	var le *signin.LockedError
	if errors.As(err, &le) {
		if s := int(le.Until.Sub(now).Seconds() + 0.999); s > 0 {
			return s
		}
	}
	return 1
}
