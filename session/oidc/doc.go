// Package oidc signs staff in with an OpenID Connect provider, Azure AD /
// Entra ID first among them: a relying party built on coreos/go-oidc
// (discovery) and golang.org/x/oauth2 (the code exchange).
//
// # The flow
//
// [RelyingParty.Begin] (or [RelyingParty.AuthURL]) starts the
// authorization code flow with PKCE (S256): it makes a random state,
// nonce and code verifier, keeps them server-side in a session/sso
// OnceStore under the state's hash, and sets a cookie binding them to
// this browser. [RelyingParty.Callback] (or [RelyingParty.Finish], for a
// REST handler at GET /api/v1/auth/sso/oidc/callback) takes the state
// exactly once — a second use, an unknown or expired state, or a browser
// without the matching cookie is [ErrState] — exchanges the code with the
// verifier, and checks the ID token:
//
//   - signature with the provider's published keys, algorithm from an
//     asymmetric allow-list ("none" and HMAC are [ErrSignature]); a token
//     that carries or points to its own key (jwk, jku, x5u, x5c) is
//     refused;
//   - keys are fetched on first use and again for an unknown kid at most
//     once per [WithKeyRefreshInterval], so a flood of made-up kids costs
//     one fetch ([ErrUnknownKey]);
//   - tenant (tid in [Config.Tenants]), issuer (for a multi-tenant Entra
//     app, [Config.IssuerTemplate] filled with the token's own tid),
//     audience (and azp when there are several), exp, iat and nbf with a
//     small leeway, nonce, and auth_time against [Config.MaxAge].
//
// The stable key is "<tid>/<oid>" for Entra ([Config.Entra]) and sub
// otherwise; never email or preferred_username. An Entra group overage
// (_claim_names, or hasgroups) makes the groups unknown: a
// [GroupResolver] may list them (Microsoft Graph), otherwise group
// mappings are not applied. amr values such as "mfa" (and configured acr
// values) mark the session as multi-factor.
//
// The verified identity goes to an [Accounts] (session/sso's Service),
// which links or provisions the user, applies mappings and starts the
// session. Every refusal is reported there too (event sso.refused), wraps
// one of this package's errors, and creates nothing.
//
// # HTTP
//
// Begin, Callback and [RelyingParty.Logout] are http.HandlerFuncs. The
// default [CookieResponder] sets the session token in an HttpOnly,
// SameSite=Lax cookie and redirects to the local path the sign-in began
// from (?return=/path; anything not local becomes "/"). Logout ends the
// local session and sends the browser to the provider's
// end_session_endpoint (RP-initiated logout).
//
// Package oidctest runs a real provider (zitadel/oidc's op) in-process
// for tests and examples.
//
// A RelyingParty is safe for concurrent use.
package oidc
