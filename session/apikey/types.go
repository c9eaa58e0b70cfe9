package apikey

import (
	"fmt"
	"slices"
	"time"

	"github.com/civic-platform/security/rbac"
)

// AccountStatus is a service account's state.
type AccountStatus string

// Account states. A disabled account's keys are refused at once; a
// deleted account is removed with its keys.
const (
	AccountActive   AccountStatus = "active"
	AccountDisabled AccountStatus = "disabled"
)

// MaxAccountID is the longest service account id, in bytes.
const MaxAccountID = 100

// MaxText is the longest owner, department, description or key name.
const MaxText = 254

// Account is a service account: a non-human subject, svc:<ID>, that
// receives roles through the policy like any subject.
type Account struct {
	// ID is lower-case letters, digits, '-', '_' and '.', 1-100 bytes.
	ID string
	// Owner is the person answerable for it (user:<id>).
	Owner rbac.Subject
	// Department is the owning department (its scope, dept:<id>, or a name).
	Department  string
	Description string
	Status      AccountStatus
	Created     time.Time
	// Changed is when Status last changed.
	Changed time.Time
}

// Subject is the account as a policy subject: svc:<ID>.
func (a Account) Subject() rbac.Subject { return rbac.Subject("svc:" + a.ID) }

func validAccountID(id string) bool {
	if id == "" || len(id) > MaxAccountID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validText(s string) bool {
	if len(s) > MaxText {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func (a Account) validate() error {
	switch {
	case !validAccountID(a.ID):
		return fmt.Errorf("%w: service account id must be 1-%d bytes of a-z, 0-9, '-', '_', '.'", ErrInvalidInput, MaxAccountID)
	case a.Owner.Validate() != nil || a.Owner.Kind() != rbac.User:
		return fmt.Errorf("%w: a service account's owner is a person (user:<id>)", ErrInvalidInput)
	case !validText(a.Department) || !validText(a.Description) || a.Department == "":
		return fmt.Errorf("%w: department is required; department and description are at most %d printable bytes", ErrInvalidInput, MaxText)
	}
	return nil
}

// Narrowing limits a key to part of what its account may do. An empty
// Permissions list means every permission the account holds; an empty
// Scopes list means every scope. A narrowing never adds anything: each
// use is still decided by the live policy for the account.
type Narrowing struct {
	// Permissions are exact permissions (no wildcards).
	Permissions []rbac.Permission `json:"permissions,omitempty"`
	// Scopes are the scopes the key may act at, exactly ("org" covers
	// every scope).
	Scopes []rbac.Scope `json:"scopes,omitempty"`
}

// IsZero reports whether the narrowing leaves the key the account's full
// reach.
func (n Narrowing) IsZero() bool { return len(n.Permissions) == 0 && len(n.Scopes) == 0 }

// allows reports whether a request lies inside the narrowing.
func (n Narrowing) allows(p rbac.Permission, s rbac.Scope) bool {
	if len(n.Permissions) > 0 && !slices.Contains(n.Permissions, p) {
		return false
	}
	if len(n.Scopes) > 0 && !slices.Contains(n.Scopes, s) && !slices.Contains(n.Scopes, rbac.OrgScope) {
		return false
	}
	return true
}

func (n Narrowing) normalize() (Narrowing, error) {
	out := Narrowing{Permissions: slices.Clone(n.Permissions), Scopes: slices.Clone(n.Scopes)}
	for _, p := range out.Permissions {
		if err := p.Validate(); err != nil {
			return Narrowing{}, fmt.Errorf("%w: narrowing permission %q must be an exact permission", ErrInvalidInput, p)
		}
	}
	for _, s := range out.Scopes {
		if err := s.Validate(); err != nil {
			return Narrowing{}, fmt.Errorf("%w: narrowing scope %q: %v", ErrInvalidInput, s, err)
		}
	}
	slices.Sort(out.Permissions)
	out.Permissions = slices.Compact(out.Permissions)
	slices.Sort(out.Scopes)
	out.Scopes = slices.Compact(out.Scopes)
	if len(out.Permissions) == 0 {
		out.Permissions = nil
	}
	if len(out.Scopes) == 0 {
		out.Scopes = nil
	}
	return out, nil
}

// Key is a stored API key: everything but the secret, which is kept only
// as an HMAC-SHA-256 under the server key.
type Key struct {
	// ID is the public key id, the second part of the key.
	ID      string
	Account string
	Name    string
	// Hash is HMAC-SHA-256(server key, secret).
	Hash    [32]byte
	Created time.Time
	// Expires is when the key stops working; zero for never.
	Expires   time.Time
	Narrowing Narrowing
	// RotatedFrom is the key this one replaced; empty for a first key.
	RotatedFrom string
	// ReplacedBy is the key that replaced this one; set by a rotation.
	ReplacedBy string
	// Retires is the overlap deadline of a rotated key: it is refused from
	// then on. Zero while the key has not been rotated.
	Retires time.Time
	// Revoked is when the key was revoked; zero if it was not.
	Revoked time.Time
	// LastUsed is the last use recorded in the store (accurate to the
	// Manager's flush interval); zero if never used.
	LastUsed time.Time
}

// State is a key's state at an instant.
type State string

// Key states.
const (
	StateActive   State = "active"
	StateRetiring State = "retiring" // rotated, inside its overlap
	StateRetired  State = "retired"  // rotated, overlap over
	StateRevoked  State = "revoked"
	StateExpired  State = "expired"
)

// StateAt returns the key's state at t.
func (k Key) StateAt(t time.Time) State {
	switch {
	case !k.Revoked.IsZero():
		return StateRevoked
	case !k.Retires.IsZero() && !t.Before(k.Retires):
		return StateRetired
	case !k.Expires.IsZero() && !t.Before(k.Expires):
		return StateExpired
	case !k.Retires.IsZero():
		return StateRetiring
	}
	return StateActive
}

// Created is what creating or rotating a key returns: the key itself,
// shown this once, and its stored record.
type Created struct {
	// Secret is the full key to hand to the client. It is not stored and
	// cannot be shown again.
	Secret string
	Key    Key
}

// String hides the secret, so a Created printed or logged by mistake does
// not leak it.
func (c Created) String() string { return "apikey " + c.Key.ID + " (secret hidden)" }

// GoString hides the secret from %#v.
func (c Created) GoString() string { return c.String() }

// Principal is who a verified key speaks for. It shares nothing a caller
// can change with the Manager's cache.
type Principal struct {
	KeyID   string
	Account string
	// Subject is svc:<Account>.
	Subject rbac.Subject
	Name    string
	// narrowing is shared with the cache entry, so it is not exported.
	narrowing Narrowing
}

// Narrowing returns a copy of the key's narrowing.
func (p Principal) Narrowing() Narrowing {
	return Narrowing{Permissions: slices.Clone(p.narrowing.Permissions), Scopes: slices.Clone(p.narrowing.Scopes)}
}

// Allows reports whether a request for perm at scope lies inside the
// key's narrowing (always, for a key without one). The policy must still
// allow the account: see Manager.Authorize.
func (p Principal) Allows(perm rbac.Permission, scope rbac.Scope) bool {
	return p.narrowing.allows(perm, scope)
}
