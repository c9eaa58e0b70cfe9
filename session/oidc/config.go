package oidc

import (
	"context"
	"net/http"
	"time"

	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/sso"
)

// Config describes one OpenID Connect provider and this application's
// registration with it.
type Config struct {
	// Provider is the provider's name in session/sso's configuration
	// ("entra"); identities are linked under it.
	Provider string
	// Issuer is the provider's issuer URL, where
	// /.well-known/openid-configuration is found. For a single-tenant
	// Entra ID app: https://login.microsoftonline.com/<tenant id>/v2.0.
	Issuer string
	// IssuerTemplate, for a multi-tenant Entra ID app, is the issuer with
	// "{tenantid}" in place of the tenant id
	// (https://login.microsoftonline.com/{tenantid}/v2.0): a token's iss
	// must be the template with the token's own tid, and Tenants must
	// list the tid. Leave empty for a single issuer.
	IssuerTemplate string
	// Tenants are the allowed tenant ids (tid). Required with
	// IssuerTemplate; with a single issuer, an optional extra check.
	Tenants []string
	// Entra makes "<tid>/<oid>" the stable key, and requires both claims.
	// Otherwise the key is sub.
	Entra bool

	ClientID, ClientSecret string
	// RedirectURL is this application's callback, registered at the
	// provider: https://city.example/api/v1/auth/sso/oidc/callback.
	RedirectURL string
	// Scopes requested besides "openid"; default "profile email".
	Scopes []string
	// MaxAge, when positive, is sent as max_age; the ID token must then
	// carry auth_time no older than MaxAge.
	MaxAge time.Duration
	// PostLogoutRedirectURL is where the provider sends the browser after
	// RP-initiated logout.
	PostLogoutRedirectURL string
	// MFAMethods are the amr values that count as a second factor;
	// default mfa, otp, hwk, swk, sc, fido, face, fpt, iris, retina, vbm
	// (RFC 8176's multi-factor and biometric methods). MFAContexts are acr
	// values that do.
	MFAMethods  []string
	MFAContexts []string
	// GroupsClaim names the claim holding group ids (default "groups");
	// AttributeClaims name other ID token claims ("department",
	// "jobTitle") copied into the identity's attributes for mappings and
	// provisioning.
	GroupsClaim     string
	AttributeClaims []string
}

// Accounts is what the relying party hands a verified identity to;
// *sso.Service implements it.
type Accounts interface {
	SignIn(ctx context.Context, id sso.Identity, client session.Client) (sso.Result, error)
	Refused(ctx context.Context, provider string, err error)
}

// GroupResolver lists a user's groups when the ID token carries a group
// overage link instead of the groups claim (Entra, past 200 groups): for
// example through Microsoft Graph's getMemberObjects with the access
// token. An error leaves the groups unknown.
type GroupResolver func(ctx context.Context, id sso.Identity, accessToken string) ([]string, error)

// Responder writes the HTTP answer of [RelyingParty.Callback]; it is
// [sso.Responder], shared with session/saml.
type Responder = sso.Responder

// An Option configures a [RelyingParty].
type Option func(*options)

type options struct {
	client      *http.Client
	now         func() time.Time
	leeway      time.Duration
	keyInterval time.Duration
	once        sso.OnceStore
	pendingTTL  time.Duration
	responder   Responder
	groups      GroupResolver
	ender       SessionEnder
}

// SessionEnder ends the local session on logout; *session.Manager
// implements it.
type SessionEnder interface {
	Logout(ctx context.Context, token string) error
}

// WithHTTPClient sets the client for discovery, keys and the token
// endpoint (default: one with a 10 s timeout).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithClock sets the clock used for token times and state expiry.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLeeway sets the allowed clock difference for exp, iat, nbf and
// auth_time (default 60 s; at most 5 minutes).
func WithLeeway(d time.Duration) Option { return func(o *options) { o.leeway = d } }

// WithKeyRefreshInterval sets the least time between two fetches of the
// provider's key set when a token names an unknown key (default 1 minute).
func WithKeyRefreshInterval(d time.Duration) Option { return func(o *options) { o.keyInterval = d } }

// WithOnceStore keeps sign-ins in progress in s (default: in memory, one
// process). Several processes behind a load balancer need a shared one
// (adapters/redisstore).
func WithOnceStore(s sso.OnceStore) Option { return func(o *options) { o.once = s } }

// WithPendingTTL sets how long a begun sign-in may take (default 10
// minutes).
func WithPendingTTL(d time.Duration) Option { return func(o *options) { o.pendingTTL = d } }

// WithResponder sets how Callback answers (default: [CookieResponder]).
func WithResponder(r Responder) Option { return func(o *options) { o.responder = r } }

// WithGroupResolver resolves group overage. Without one, an overage
// leaves the groups unknown and group mappings are not applied.
func WithGroupResolver(g GroupResolver) Option { return func(o *options) { o.groups = g } }

// WithSessionEnder lets [RelyingParty.Logout] end the local session.
func WithSessionEnder(e SessionEnder) Option { return func(o *options) { o.ender = e } }
