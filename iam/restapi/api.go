package restapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/iam/iamotel"
	"github.com/civic-platform/security/rbac/templates"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/signin"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

// UserDirectory reads user records. signin's stores implement it.
type UserDirectory interface {
	User(ctx context.Context, id string) (signin.User, error)
	// ListUsers returns up to limit users whose id sorts after after, in
	// id order.
	ListUsers(ctx context.Context, after string, limit int) ([]signin.User, error)
}

// API serves /api/v1. Build it with [New] and mount [API.Handler] behind
// the middleware's Authenticate (Handler does that itself).
type API struct {
	authz *iam.Authorizer
	mw    *iamhttp.Middleware
	o     options
	mux   *http.ServeMux
}

// An Option configures an [API].
type Option func(*options)

type options struct {
	admin     *iam.Admin
	signin    *signin.Service
	sessions  *session.Manager
	keys      *apikey.Manager
	users     UserDirectory
	templates *templates.Set
	scoper    *iam.Scoper
	oidc      http.Handler
	saml      http.Handler
	changed   func(ctx context.Context, userID string) error
	tel       *iamotel.Telemetry
	logger    *slog.Logger
	clientIP  func(*http.Request) string
}

// WithAdmin serves the endpoints that change assignments and emergency
// access through a (iam.NewAdmin or iam.NewOutboxAdmin over the same
// Authorizer).
func WithAdmin(a *iam.Admin) Option { return func(o *options) { o.admin = a } }

// WithSignIn serves login, MFA and password change through s (which must
// start sessions with the same session.Manager given to WithSessions).
func WithSignIn(s *signin.Service) Option { return func(o *options) { o.signin = s } }

// WithSessions serves logout, the session endpoint and MFA step-up.
func WithSessions(m *session.Manager) Option { return func(o *options) { o.sessions = m } }

// WithAPIKeys serves the service account and key endpoints.
func WithAPIKeys(m *apikey.Manager) Option { return func(o *options) { o.keys = m } }

// WithUsers serves the user endpoints.
func WithUsers(d UserDirectory) Option { return func(o *options) { o.users = d } }

// WithTemplates lists role templates from s.
func WithTemplates(s *templates.Set) Option { return func(o *options) { o.templates = s } }

// WithScoper serves data filters with sc's data-scope rules.
func WithScoper(sc *iam.Scoper) Option { return func(o *options) { o.scoper = sc } }

// WithSSO serves the OIDC and SAML callbacks with the given handlers
// (session/oidc, session/saml). Without them the callbacks answer 501.
func WithSSO(oidc, saml http.Handler) Option {
	return func(o *options) { o.oidc, o.saml = oidc, saml }
}

// WithPasswordChanged calls fn after a user changed their password through
// the API (cmd/iamd uses it to give the bootstrap administrator their role
// once the one-time password is replaced).
func WithPasswordChanged(fn func(ctx context.Context, userID string) error) Option {
	return func(o *options) { o.changed = fn }
}

// WithTelemetry records a span for every sign-in.
func WithTelemetry(t *iamotel.Telemetry) Option { return func(o *options) { o.tel = t } }

// WithLogger sets where failures are logged (slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithClientIP sets how the client's address is read for sign-in lockout
// (by default the host of r.RemoteAddr; behind a proxy, read its header).
func WithClientIP(fn func(*http.Request) string) Option {
	return func(o *options) {
		if fn != nil {
			o.clientIP = fn
		}
	}
}

// New returns the API deciding with authz and authenticating with mw.
func New(authz *iam.Authorizer, mw *iamhttp.Middleware, opts ...Option) (*API, error) {
	if authz == nil || mw == nil {
		return nil, errors.New("restapi: New: nil Authorizer or Middleware")
	}
	o := options{logger: slog.Default(), clientIP: remoteHost}
	for _, opt := range opts {
		opt(&o)
	}
	a := &API{authz: authz, mw: mw, o: o, mux: http.NewServeMux()}
	for _, rt := range a.routes() {
		a.mux.Handle(rt.method+" "+Prefix+rt.path, a.mount(rt))
	}
	a.mux.Handle(Prefix+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mw.Error(w, r, errNoRoute)
	}))
	return a, nil
}

var errNoRoute = errors.Join(iamhttp.ErrNotFound, errors.New("restapi: no such endpoint"))

// Handler returns the API, authenticated with the Middleware: mount it at
// the server's root (it answers under /api/v1 only).
func (a *API) Handler() http.Handler { return a.mw.Authenticate(a.mux) }

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// route is one endpoint.
type route struct {
	method, path string
	summary      string
	group        string
	// perm is the permission required at scope; "" for the
	// authentication endpoints, which then say whether they need a
	// signed-in caller (self).
	perm  iam.Permission
	scope iamhttp.ScopeFunc
	self  bool
	// body returns a new request body value; nil for none.
	body func() any
	// resp is a value of the success response's type (nil: 204), status
	// its status.
	resp   any
	status int
	h      func(w http.ResponseWriter, r *http.Request) error
}

type bodyKey struct{}

func bodyOf[T any](r *http.Request) *T {
	v, _ := r.Context().Value(bodyKey{}).(*T)
	return v
}

// bodyScope is a ScopeFunc reading the scope from the decoded body.
func bodyScope[T any](get func(*T) string) iamhttp.ScopeFunc {
	return func(r *http.Request) (iam.Scope, error) {
		b := bodyOf[T](r)
		if b == nil {
			return "", iamhttp.ErrBadRequest
		}
		return iam.Scope(get(b)), nil
	}
}

func (a *API) mount(rt route) http.Handler {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := rt.h(w, r); err != nil {
			a.mw.Error(w, r, err)
		}
	})
	needsCaller := rt.perm != "" || rt.self
	if rt.perm != "" {
		h = a.mw.Require(rt.perm, rt.scope)(h)
	}
	next := h
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if needsCaller {
			if _, ok := iamhttp.Principal(r.Context()); !ok {
				a.mw.Error(w, r, session.ErrInvalidToken)
				return
			}
		}
		if rt.body != nil {
			v := rt.body()
			if err := decode(r, v); err != nil {
				a.mw.Error(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, v))
		}
		next.ServeHTTP(w, r)
	})
}

func org() iamhttp.ScopeFunc { return iamhttp.Fixed(iam.OrgScope) }

func (a *API) routes() []route {
	return []route{
		// auth
		{method: "POST", path: "/auth/login", group: "auth", summary: "Sign in with email and password (and a TOTP code when enrolled)",
			body: func() any { return new(LoginRequest) }, resp: LoginResponse{}, status: 200, h: a.login},
		{method: "POST", path: "/auth/sso/saml/callback", group: "auth", summary: "SAML assertion consumer (501 until an SSO handler is configured)",
			status: 303, h: a.samlCallback},
		{method: "GET", path: "/auth/sso/oidc/callback", group: "auth", summary: "OpenID Connect redirect callback (501 until an SSO handler is configured)",
			status: 303, h: a.oidcCallback},
		{method: "POST", path: "/auth/mfa/verify", group: "auth", summary: "Give a second factor: finish a sign-in (challenge) or step up the current session",
			body: func() any { return new(MFARequest) }, resp: LoginResponse{}, status: 200, h: a.mfaVerify},
		{method: "POST", path: "/auth/logout", group: "auth", summary: "End the caller's session", self: true, status: 204, h: a.logout},
		{method: "GET", path: "/auth/session", group: "auth", summary: "The caller's identity and session", self: true, resp: SessionInfo{}, status: 200, h: a.sessionInfo},
		{method: "POST", path: "/users/me/password", group: "users", summary: "Change the caller's own password", self: true,
			body: func() any { return new(PasswordRequest) }, status: 204, h: a.changePassword},
		// authorization
		{method: "POST", path: "/authz/check", group: "authorization", summary: "Decide a batch of checks", perm: PermDecisionCheck, scope: org(),
			body: func() any { return new(CheckRequest) }, resp: CheckResponse{}, status: 200, h: a.check},
		{method: "POST", path: "/authz/explain", group: "authorization", summary: "Explain one decision", perm: PermDecisionExplain, scope: org(),
			body: func() any { return new(CheckItem) }, resp: ExplainResponse{}, status: 200, h: a.explain},
		{method: "GET", path: "/authz/who-can", group: "authorization", summary: "Who may use a permission at a scope", perm: PermAccessReview,
			scope: iamhttp.FromQuery("", "scope"), resp: WhoCanResponse{}, status: 200, h: a.whoCan},
		{method: "POST", path: "/authz/filter", group: "authorization", summary: "The records a subject may use a permission on, as a filter", perm: PermDecisionFilter, scope: org(),
			body: func() any { return new(FilterRequest) }, resp: FilterResponse{}, status: 200, h: a.filter},
		// users and roles
		{method: "GET", path: "/users", group: "users", summary: "List users", perm: PermUserList, scope: org(), resp: UserList{}, status: 200, h: a.listUsers},
		{method: "GET", path: "/users/{id}", group: "users", summary: "One user", perm: PermUserView, scope: org(), resp: UserView{}, status: 200, h: a.getUser},
		{method: "GET", path: "/users/{id}/assignments", group: "users", summary: "The grants and roles that reach a user", perm: PermAssignmentList, scope: org(),
			resp: AssignmentList{}, status: 200, h: a.listAssignments},
		{method: "POST", path: "/assignments", group: "users", summary: "Assign a role at a scope", perm: PermRoleAssign,
			scope: bodyScope(func(b *GrantRequest) string { return b.Scope }), body: func() any { return new(GrantRequest) }, resp: RevisionResponse{}, status: 201, h: a.assign},
		{method: "POST", path: "/assignments/revoke", group: "users", summary: "Revoke a grant", perm: PermRoleRevoke,
			scope: bodyScope(func(b *RevokeRequest) string { return b.Scope }), body: func() any { return new(RevokeRequest) }, resp: RevisionResponse{}, status: 200, h: a.revoke},
		{method: "GET", path: "/roles", group: "users", summary: "List roles", perm: PermRoleList, scope: org(), resp: RoleList{}, status: 200, h: a.listRoles},
		{method: "GET", path: "/role-templates", group: "users", summary: "List role templates", perm: PermRoleList, scope: org(), resp: TemplateList{}, status: 200, h: a.listTemplates},
		{method: "POST", path: "/emergency/activations", group: "users", summary: "Activate emergency access for a window", perm: PermEmergencyStart,
			scope: bodyScope(func(b *EmergencyRequest) string { return b.Scope }), body: func() any { return new(EmergencyRequest) }, resp: ActivationView{}, status: 201, h: a.activateEmergency},
		{method: "POST", path: "/emergency/activations/end", group: "users", summary: "End emergency access early", perm: PermEmergencyEnd,
			scope: bodyScope(func(b *EndEmergencyRequest) string { return b.Scope }), body: func() any { return new(EndEmergencyRequest) }, resp: RevisionResponse{}, status: 200, h: a.endEmergency},
		// service accounts and keys
		{method: "POST", path: "/service-accounts", group: "keys", summary: "Create a service account", perm: PermAccountCreate, scope: org(),
			body: func() any { return new(AccountRequest) }, resp: AccountView{}, status: 201, h: a.createAccount},
		{method: "GET", path: "/service-accounts", group: "keys", summary: "List service accounts", perm: PermAccountList, scope: org(), resp: AccountList{}, status: 200, h: a.listAccounts},
		{method: "POST", path: "/service-accounts/{id}/keys", group: "keys", summary: "Create an API key (the secret is shown once)", perm: PermKeyCreate, scope: org(),
			body: func() any { return new(KeyRequest) }, resp: CreatedKey{}, status: 201, h: a.createKey},
		{method: "GET", path: "/service-accounts/{id}/keys", group: "keys", summary: "List an account's keys", perm: PermKeyList, scope: org(), resp: KeyList{}, status: 200, h: a.listKeys},
		{method: "POST", path: "/api-keys/{id}/rotate", group: "keys", summary: "Rotate a key; the old one stays valid for the overlap", perm: PermKeyRotate, scope: org(),
			body: func() any { return new(RotateRequest) }, resp: CreatedKey{}, status: 201, h: a.rotateKey},
		{method: "POST", path: "/api-keys/{id}/revoke", group: "keys", summary: "Revoke a key at once", perm: PermKeyRevoke, scope: org(),
			body: func() any { return new(ReasonRequest) }, status: 204, h: a.revokeKey},
		{method: "GET", path: "/api-keys/report", group: "keys", summary: "Governance report: rotation due, overdue, unused keys", perm: PermKeyReport, scope: org(),
			resp: freeform{}, status: 200, h: a.keyReport},
		{method: "GET", path: "/openapi.json", group: "meta", summary: "This API's OpenAPI 3.1 description", status: 200, h: a.openapi},
	}
}
