package iamhttp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/civic-platform/security/iam/iamotel"

	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
)

// DefaultCookieName is the session cookie's name. The __Host- prefix makes
// browsers accept it only when Secure, with Path=/ and no Domain.
const DefaultCookieName = "__Host-civic-session"

// DefaultAPIKeyHeader is the header an API key may be sent in.
const DefaultAPIKeyHeader = "X-API-Key"

// An Option configures a [Middleware] in [New].
type Option func(*options)

type options struct {
	sessions   *session.Manager
	keys       *apikey.Manager
	sources    []Source
	cookieName string
	insecure   bool
	sameSite   http.SameSite
	keyHeader  string
	refuseAnon bool
	realm      string
	logger     *slog.Logger
	now        func() time.Time
	retryAfter int
	trusted    []string
	waitMax    time.Duration
	telemetry  *iamotel.Telemetry
	err        error
}

func defaultOptions() options {
	return options{
		sources:    []Source{Cookie, Bearer, APIKeyHeader},
		cookieName: DefaultCookieName,
		sameSite:   http.SameSiteLaxMode,
		keyHeader:  http.CanonicalHeaderKey(DefaultAPIKeyHeader),
		realm:      "civic",
		logger:     slog.Default(),
		now:        time.Now,
		retryAfter: 2,
		waitMax:    2 * time.Second,
	}
}

// WithSessions verifies session cookies and bearer session tokens with m.
// Without it, a session credential is refused as unknown.
func WithSessions(m *session.Manager) Option { return func(o *options) { o.sessions = m } }

// WithAPIKeys verifies API keys with m. Without it, an API key is refused
// as unknown.
func WithAPIKeys(m *apikey.Manager) Option { return func(o *options) { o.keys = m } }

// WithSources sets which credentials are read and, when several are
// presented and name the same subject, which one describes the caller
// (the first in this order). Credentials from sources not listed are
// ignored. The default is Cookie, Bearer, APIKeyHeader.
func WithSources(sources ...Source) Option {
	return func(o *options) {
		if len(sources) == 0 {
			o.err = errors.Join(o.err, errors.New("iamhttp: WithSources: no source"))
			return
		}
		seen := map[Source]bool{}
		for _, s := range sources {
			if s < Cookie || s > APIKeyHeader || seen[s] {
				o.err = errors.Join(o.err, fmt.Errorf("iamhttp: WithSources: bad or repeated source %d", s))
				return
			}
			seen[s] = true
		}
		o.sources = append([]Source(nil), sources...)
	}
}

// WithCookieName sets the session cookie's name (DefaultCookieName).
func WithCookieName(name string) Option {
	return func(o *options) {
		if !validCookieName(name) {
			o.err = errors.Join(o.err, errors.New("iamhttp: WithCookieName: not a valid cookie name"))
			return
		}
		o.cookieName = name
	}
}

// WithAPIKeyHeader sets the header an API key may be sent in
// (DefaultAPIKeyHeader). Authorization: Bearer civic_... is always read.
func WithAPIKeyHeader(name string) Option {
	return func(o *options) {
		if !validCookieName(name) || strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Cookie") {
			o.err = errors.Join(o.err, errors.New("iamhttp: WithAPIKeyHeader: not a valid header name"))
			return
		}
		o.keyHeader = http.CanonicalHeaderKey(name)
	}
}

// WithSameSite sets the session cookie's SameSite attribute (Lax by
// default; Strict is stronger but drops the cookie on links from other
// sites). SameSite=None is refused: it would send the cookie cross-site.
func WithSameSite(s http.SameSite) Option {
	return func(o *options) {
		if s != http.SameSiteLaxMode && s != http.SameSiteStrictMode {
			o.err = errors.Join(o.err, errors.New("iamhttp: WithSameSite: only Lax or Strict"))
			return
		}
		o.sameSite = s
	}
}

// InsecureCookies sets session cookies without Secure, for development over
// plain HTTP on loopback. The cookie name loses the __Host- prefix (which
// requires Secure) if it had it. Never use it in production.
func InsecureCookies() Option { return func(o *options) { o.insecure = true } }

// RefuseAnonymous makes Authenticate answer 401 to a request with no
// credential at all. By default such a request passes through anonymous,
// for public routes, and [Middleware.Require] refuses it.
func RefuseAnonymous() Option { return func(o *options) { o.refuseAnon = true } }

// WithTrustedOrigins lets cookie-authenticated requests from these origins
// ("https://intranet.city.example") through the cross-origin protection.
func WithTrustedOrigins(origins ...string) Option {
	return func(o *options) { o.trusted = append(o.trusted, origins...) }
}

// WithRealm sets the realm named in WWW-Authenticate ("civic").
func WithRealm(realm string) Option {
	return func(o *options) {
		if realm == "" || !safeToken(realm) {
			o.err = errors.Join(o.err, errors.New("iamhttp: WithRealm: realm must be [A-Za-z0-9._-]+"))
			return
		}
		o.realm = realm
	}
}

// WithLogger sets where refusals are logged with their detail
// (slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithClock sets the clock (time.Now), used for Retry-After of locks.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithRevisionWait bounds how long a request carrying X-Policy-Revision
// waits for this process to reach that policy revision (2 s by default);
// past it the request is refused with 503 and Retry-After.
func WithRevisionWait(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.waitMax = d
		}
	}
}

// WithTelemetry records a server span and the request counter for every
// request through [Middleware.Authenticate] (see package iam/iamotel; give
// the same Telemetry to iam.WithObserver for decision metrics). Without it
// nothing is recorded and nothing is allocated for it.
func WithTelemetry(t *iamotel.Telemetry) Option { return func(o *options) { o.telemetry = t } }

func validCookieName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}
