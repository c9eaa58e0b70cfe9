package sso

import "errors"

// The errors of account linking. Each refusal wraps exactly one of them, so
// a caller branches with errors.Is; the protocol packages (session/oidc,
// session/saml) have their own sentinels for what the IdP sent.
var (
	// ErrUnknownProvider is returned for an identity whose provider is not
	// configured.
	ErrUnknownProvider = errors.New("sso: unknown provider")
	// ErrInvalidClaim is wrapped by errors for an identity whose stable key,
	// tenant, email or other claim is empty, too long, not printable ASCII
	// (look-alike characters), or otherwise malformed.
	ErrInvalidClaim = errors.New("sso: invalid claim")
	// ErrNoAccount is returned when the identity is linked to no user and
	// the provider may not create one (no just-in-time provisioning, or no
	// authoritative verified email), or its link names a user that no
	// longer exists.
	ErrNoAccount = errors.New("sso: no account for this identity")
	// ErrNotAllowed is returned when just-in-time provisioning is
	// configured but the claims do not match its rules (tenant, email
	// domain, verified email).
	ErrNotAllowed = errors.New("sso: identity does not match the provisioning rules")
	// ErrAccountConflict is returned when provisioning would take an id or
	// email that an existing user already holds, or a link names another
	// user: an identity is never attached to an account by email alone.
	ErrAccountConflict = errors.New("sso: identity conflicts with an existing account")
	// ErrInactive is returned when the linked user is suspended or
	// offboarded.
	ErrInactive = errors.New("sso: account is not active")
	// ErrGroupsUnknown is returned by a [GroupResolver] that cannot list
	// the groups; mappings that depend on groups are then not applied.
	ErrGroupsUnknown = errors.New("sso: group membership unknown")
	// ErrMapping wraps the role writer's error when the grants that the
	// mappings produce are refused (a segregation-of-duties conflict, an
	// unknown role or scope): the sign-in fails and nothing is created.
	ErrMapping = errors.New("sso: role mapping refused")
	// ErrUnavailable wraps a store, writer or session failure.
	ErrUnavailable = errors.New("sso: unavailable")
	// ErrNotFound is returned by stores for a missing link or record.
	ErrNotFound = errors.New("sso: not found")
	// ErrExists is returned by stores when a link or one-time record is
	// already taken.
	ErrExists = errors.New("sso: already exists")
	// ErrReplay is returned by a [ReplayCache] for an id it has seen.
	ErrReplay = errors.New("sso: replayed")
	// ErrInvalidConfig is wrapped by errors for a configuration that
	// cannot work (a mapping to a malformed scope, an empty provider name).
	ErrInvalidConfig = errors.New("sso: invalid configuration")
)
