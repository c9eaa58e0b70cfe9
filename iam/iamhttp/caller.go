package iamhttp

import (
	"context"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
)

// Source is where a request's credential came from.
type Source uint8

// The credential sources, in the default order in which
// [Middleware.Authenticate] reads them.
const (
	// Cookie is the session cookie ([WithCookieName]).
	Cookie Source = iota + 1
	// Bearer is "Authorization: Bearer <token>": a session token, or an API
	// key (recognised by its civic_ prefix).
	Bearer
	// APIKeyHeader is the API key header ([WithAPIKeyHeader], X-API-Key by
	// default).
	APIKeyHeader
)

// String returns "cookie", "bearer" or "api-key-header".
func (s Source) String() string {
	switch s {
	case Cookie:
		return "cookie"
	case Bearer:
		return "bearer"
	case APIKeyHeader:
		return "api-key-header"
	}
	return "unknown"
}

// Caller is who made a request, as [Middleware.Authenticate] verified it.
// The zero Caller is anonymous.
type Caller struct {
	// Subject is "user:alice" for a session, "svc:nightly-export" for an
	// API key.
	Subject iam.Subject
	// SessionID is the session's id; empty for an API key.
	SessionID string
	// KeyID is the API key's public id; empty for a session.
	KeyID string
	// Methods are how the caller authenticated; Level and MFA the
	// assurance reached. An API key has MethodAPIKey, LevelPassword and
	// MFANotRequired.
	Methods session.Methods
	Level   session.Level
	MFA     session.MFA
	// Source is the credential that authenticated the request.
	Source Source

	key   *apikey.Principal // narrowing of an API key
	token string            // the session token, for logout; never logged
}

// Anonymous reports whether c is the zero Caller.
func (c Caller) Anonymous() bool { return c.Subject == "" }

// Authn returns what authentication established about the caller, for
// iam.CheckAuthenticated and iam.Request.
func (c Caller) Authn() iam.Authn {
	var methods []string
	for _, m := range []session.Method{session.MethodPassword, session.MethodTOTP, session.MethodOIDC, session.MethodSAML, session.MethodAPIKey, session.MethodRecoveryCode} {
		if c.Methods.Has(m) {
			methods = append(methods, m.String())
		}
	}
	return iam.Authn{Subject: c.Subject, Methods: methods, MFA: c.MFA == session.MFADone}
}

// MFADone reports whether the caller gave a second factor.
func (c Caller) MFADone() bool { return c.MFA == session.MFADone }

type callerKey struct{}

// Principal returns the Caller that [Middleware.Authenticate] put in ctx,
// and false for an anonymous request or one that did not pass through it.
func Principal(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	if !ok || c == nil {
		return Caller{}, false
	}
	return *c, true
}

// Token returns the session token the caller presented, for a handler that
// ends the session (logout); "" for an API key or no caller. Never log it.
func Token(ctx context.Context) string {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	if !ok || c == nil {
		return ""
	}
	return c.token
}

// WithCaller returns a copy of ctx carrying c, for tests of handlers that
// read [Principal].
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, &c)
}
