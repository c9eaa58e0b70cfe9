// Package sso is what single sign-on does after the protocol: it links an
// external identity to a user, creates the user just in time when the
// provider's rules allow it, turns claims into grants and group
// memberships, and starts the session.
//
// The protocols live beside it: session/oidc (an OpenID Connect relying
// party for Azure AD / Entra ID and other providers) and session/saml (a
// SAML 2.0 service provider). Each checks its message (signature, issuer,
// audience, time, nonce or request id, replay) and hands a verified
// [Identity] to [Service.SignIn]. Keeping linking here means both
// protocols follow one set of rules, and those rules are tested once,
// without a network.
//
// # Linking
//
// An identity is (provider name, stable key): for Entra ID "<tid>/<oid>",
// for SAML the persistent NameID, never an email or a display name. One
// identity maps to one user ([Links]; [NewMemLinks] in memory,
// adapters/pgstore and adapters/sqlitestore in SQL). An identity without a
// link is attached to an existing user only if its email is verified and
// the provider is configured as authoritative for the email's domain
// ([Provider.EmailDomains]). Otherwise a user is created only if the
// provider allows just-in-time provisioning ([JIT]) and the identity
// matches its rules (tenant, verified email in an allowed domain); a new
// user never takes an email or id that an existing user holds
// ([ErrAccountConflict]). Keys, tenants, group ids and emails must be
// printable ASCII: a Cyrillic or full-width look-alike is refused
// ([ErrInvalidClaim]), never compared.
//
// # Mappings
//
// [Mapping]s turn a group claim value or an attribute value into a role at
// a scope ([UserDepartment] stands for "dept:<the user's department>";
// role templates such as "bylaw-officer" are roles) or a membership of a
// group subject. They are applied on every sign-in through an [Assigner]
// (the iam policy writer), in one change that segregation-of-duties rules
// check like any other; a refusal fails the sign-in with [ErrMapping]
// wrapping the writer's error, and nothing is created. What a provider
// granted is recorded with the link, so a mapping that no longer matches
// is taken back on the next sign-in. When the provider could not list the
// groups (Entra group overage, [Identity.GroupsUnknown]), group mappings
// are neither applied nor taken back: unknown is not "no groups".
//
// # Sessions and MFA
//
// The session records the method (oidc or saml) and, when the provider
// asserted a second factor ([Identity.MFA]: amr "mfa", an acr or SAML
// AuthnContextClassRef configured as multi-factor), MFA done at
// session.LevelMFA, so permissions that require MFA accept it; otherwise
// the session is single-factor and such a permission asks for a local
// TOTP step-up.
//
// # One-time records and replay
//
// A sign-in that has begun (OIDC state, SAML request id) is kept in a
// [OnceStore] that a browser's return takes exactly once, and SAML
// assertion ids in a [ReplayCache]. [NewMemOnce] and [NewMemReplay] serve
// one process; adapters/redisstore shares them across processes.
//
// # Events
//
// sso.signed_in, sso.refused (every refusal, by this package or the
// protocol packages, with its reason), sso.linked, user.provisioned,
// sso.mapping.applied, sso.mapping.refused and sso.groups.unknown go to an
// [EventSink]; iam's audit sinks fit. sso.mapping.refused carries the
// provider, a one-word reason (conflict, invalid, not_found, unavailable)
// and, for a conflict, the rule: the same whichever store refused.
//
// All types are safe for concurrent use.
package sso
