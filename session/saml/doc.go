// Package saml signs staff in with a SAML 2.0 identity provider (ADFS, a
// provincial IdP): a service provider built on crewjam/saml's
// ServiceProvider (goxmldsig 1.6 or later for signatures), with stricter
// checks around it.
//
// # The flow
//
// [ServiceProvider.Begin] (or [ServiceProvider.AuthURL]) issues an
// AuthnRequest over the HTTP-Redirect binding, keeps its id server-side in
// a session/sso OnceStore, and sets a cookie binding it to this browser.
// [ServiceProvider.ACS] (or [ServiceProvider.Finish], for a REST handler at
// POST /api/v1/auth/sso/saml/callback) receives the HTTP-POST answer and
// refuses, each with its own error and an sso.refused event, creating
// nothing:
//
//   - a form over the bound, a decoded response over [MaxResponse], nested
//     deeper than [MaxDepth] or with more than [MaxTokens] tokens
//     ([ErrTooLarge]), checked by a streaming pass before any DOM parser;
//   - a DOCTYPE, processing instruction or XML comment anywhere
//     ([ErrMalformed]): canonicalisation drops comments, so
//     "admin@city.ca<!---->.evil.example" would verify and split a name;
//   - zero or several Assertion elements anywhere, or an encrypted one
//     ([ErrAssertionCount]): the signature-wrapping and CVE-2022-41912
//     shapes;
//   - an assertion without its own signature, even inside a signed
//     response ([ErrUnsigned]); a signature that does not verify with the
//     certificates of the configured IdP metadata, whatever certificate
//     the message carries ([ErrSignature]);
//   - a response without InResponseTo while IdP-initiated sign-in is off
//     ([ErrUnsolicited], the default), or one answering a request that
//     was not issued, was answered already, expired, or was issued to
//     another browser ([ErrRequest]);
//   - issuer, audience, destination and recipient ([ErrIssuer],
//     [ErrAudience], [ErrDestination]), and NotBefore, NotOnOrAfter and
//     the issue instant against this package's clock with a small skew
//     ([WithSkew], default 60 s) on top of crewjam's own checks
//     ([ErrExpired]);
//   - an assertion id seen before, in a [sso.ReplayCache] shared across
//     processes (adapters/redisstore) or in memory ([ErrReplay]).
//
// NameID and attributes are read only from the assertion the signature
// covers (crewjam returns what it verified; the id is checked against the
// preflight's single assertion). The stable key is the NameID (never a
// transient one) or [Config.KeyAttribute]. AuthnContextClassRef values in
// [Config.MFAContexts] mark the session as multi-factor.
//
// The verified identity goes to an [Accounts] (session/sso's Service),
// which links or provisions the user, applies mappings and starts the
// session. [ServiceProvider.MetadataHandler] serves this SP's metadata.
//
// Package samltest runs a real IdP (crewjam's samlidp) in-process for
// tests and examples.
//
// A ServiceProvider is safe for concurrent use.
package saml
