// Package iamhttp protects net/http handlers with the iam library: a
// [Middleware] authenticates each request (a session cookie, a bearer
// session token or an API key), puts the [Caller] in the request context,
// and requires permissions at scopes before a handler runs.
//
// It uses the standard library's net/http only, so it works under chi,
// gorilla/mux, echo and gin through their net/http adapters.
//
//	mw, err := iamhttp.New(authz, iamhttp.WithSessions(sessions), iamhttp.WithAPIKeys(keys))
//	mux.Handle("POST /permits/{id}/approve",
//		mw.Require("permits.application.approve", iamhttp.Lookup("id", permitDept))(approve))
//	srv.Handler = mw.Authenticate(mux)
//
// # Failures
//
// A handler never runs when a decision could not be made. Every refusal is
// an RFC 9457 problem (application/problem+json) whose title and detail are
// safe to show a client; what went wrong is logged with slog under the same
// request id, never sent:
//
//   - 401 with WWW-Authenticate: no credential, or one that is malformed,
//     expired, revoked or unknown; two credentials that name different
//     subjects.
//   - 403: the policy denies; a cookie-authenticated request from another
//     site (http.CrossOriginProtection); a permission that needs a second
//     factor the session has not given (type step-up, with a
//     WWW-Authenticate insufficient_user_authentication challenge).
//   - 400: a scope taken from the request that is not a well-formed scope.
//   - 503 with Retry-After: the policy snapshot is stale, the session or key
//     store cannot be reached.
//   - 500: a handler panicked; nothing of the panic is sent.
//
// # Cookies
//
// Session cookies are Secure, HttpOnly, SameSite=Lax and named with the
// __Host- prefix by default (so no subdomain can set them). Unsafe methods
// carrying a session cookie are checked with [http.CrossOriginProtection];
// bearer tokens and API keys are not sent by browsers on their own and are
// not checked. [Middleware.StartSession] sets the cookie of a new session
// and ends the session the request presented, so a session id known before
// sign-in never survives it.
//
// A Middleware is safe for concurrent use.
package iamhttp
