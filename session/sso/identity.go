package sso

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/civic-platform/security/session"
)

// Identity is what an identity provider asserted about a person, after the
// protocol package (session/oidc, session/saml) has checked the message it
// came in: signature, issuer, audience, time, nonce or request id. Every
// field comes from the signed token or assertion.
type Identity struct {
	// Provider is the configured name of the provider ("entra", "adfs").
	Provider string
	// Key is the provider's stable, never reassigned subject key: for
	// Entra ID "<tid>/<oid>", for SAML the persistent NameID, for other
	// OIDC providers the sub claim. Never an email or a display name.
	Key string
	// Tenant is the directory the person belongs to (Entra tid), if any.
	Tenant string
	// Email as asserted, and whether the provider says it verified it.
	Email         string
	EmailVerified bool
	// Name is a display name.
	Name string
	// Groups are group ids asserted by the provider. GroupsUnknown is set
	// when the provider did not list them (Entra group overage, past 200
	// groups): then Groups says nothing, and mappings that depend on
	// groups are not applied. It is never read as "in no group".
	Groups        []string
	GroupsUnknown bool
	// Attributes are other asserted claims by name ("department").
	Attributes map[string][]string
	// Method is session.MethodOIDC or session.MethodSAML.
	Method session.Method
	// MFA reports that the provider asserted a second factor (amr "mfa",
	// "otp", "hwk", ...; an acr or AuthnContextClassRef configured as
	// multi-factor). AMR and ACR are what it sent.
	MFA bool
	AMR []string
	ACR string
}

// Limits on asserted values.
const (
	maxKey    = 256
	maxClaim  = 254
	maxGroups = 1000
	maxValues = 100
)

// visibleASCII reports whether s is 1..max bytes of printable ASCII without
// space. Keys, tenants and group ids are opaque identifiers; anything else
// (a Cyrillic look-alike, a control character, a zero-width space) is
// refused rather than compared.
func visibleASCII(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// NormalizeEmail returns e lower-cased, or an error wrapping
// [ErrInvalidClaim] unless it is a plain ASCII address (local@domain, no
// display name, no comments, no quoted local part, no look-alike
// characters). Linking and provisioning compare only normalised emails.
func NormalizeEmail(e string) (string, error) {
	if !visibleASCII(e, maxClaim) {
		return "", fmt.Errorf("%w: email is not a printable ASCII address", ErrInvalidClaim)
	}
	e = strings.ToLower(e)
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" || strings.ContainsAny(e, "\"()<>[]\\,;:") || strings.Count(e, "@") != 1 {
		return "", fmt.Errorf("%w: email is not an address", ErrInvalidClaim)
	}
	return e, nil
}

// Domain returns the part of a normalised email after the @.
func Domain(email string) string {
	_, d, _ := strings.Cut(email, "@")
	return d
}

// check validates id and returns it with its email normalised.
func (id Identity) check() (Identity, error) {
	if !visibleASCII(id.Provider, 64) {
		return id, fmt.Errorf("%w: provider name", ErrInvalidClaim)
	}
	if !visibleASCII(id.Key, maxKey) {
		return id, fmt.Errorf("%w: subject key must be 1-%d bytes of printable ASCII", ErrInvalidClaim, maxKey)
	}
	if id.Tenant != "" && !visibleASCII(id.Tenant, 64) {
		return id, fmt.Errorf("%w: tenant", ErrInvalidClaim)
	}
	if id.Email != "" {
		e, err := NormalizeEmail(id.Email)
		if err != nil {
			return id, err
		}
		id.Email = e
	} else {
		id.EmailVerified = false
	}
	if len(id.Name) > maxClaim || !utf8.ValidString(id.Name) || strings.ContainsFunc(id.Name, isControl) {
		return id, fmt.Errorf("%w: display name", ErrInvalidClaim)
	}
	if len(id.Groups) > maxGroups {
		return id, fmt.Errorf("%w: more than %d groups", ErrInvalidClaim, maxGroups)
	}
	for _, g := range id.Groups {
		if !visibleASCII(g, maxClaim) {
			return id, fmt.Errorf("%w: group id", ErrInvalidClaim)
		}
	}
	if len(id.Attributes) > maxValues {
		return id, fmt.Errorf("%w: too many attributes", ErrInvalidClaim)
	}
	for k, vs := range id.Attributes {
		if len(k) > maxClaim || len(vs) > maxValues {
			return id, fmt.Errorf("%w: attribute %.40q", ErrInvalidClaim, k)
		}
		for _, v := range vs {
			if len(v) > maxClaim || !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
				return id, fmt.Errorf("%w: attribute %.40q", ErrInvalidClaim, k)
			}
		}
	}
	if id.Method != session.MethodOIDC && id.Method != session.MethodSAML {
		return id, fmt.Errorf("%w: method must be oidc or saml", ErrInvalidClaim)
	}
	return id, nil
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// Attribute returns the first value of the named attribute, or "".
func (id Identity) Attribute(name string) string {
	if vs := id.Attributes[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}
