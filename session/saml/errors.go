package saml

import "errors"

// The refusals of the service provider. Each wraps exactly one of these,
// so a caller branches with errors.Is; what happens after the assertion is
// checked (linking, provisioning, mappings) fails with session/sso's
// errors instead.
var (
	// ErrTooLarge: the form, the decoded response, its nesting depth or
	// its number of XML tokens is over the bound.
	ErrTooLarge = errors.New("saml: response too large")
	// ErrMalformed: not base64, not well-formed XML, a DOCTYPE, a
	// processing instruction, an XML comment anywhere, text (a byte-order
	// mark) outside the root, an ID value used twice or an element with
	// several ID attributes (ID, Id, id), or an element the checks need is
	// missing.
	ErrMalformed = errors.New("saml: malformed response")
	// ErrAssertionCount: the response holds no assertion or more than
	// one (signature-wrapping and CVE-2022-41912 shapes), or an encrypted
	// assertion, which this service provider does not accept.
	ErrAssertionCount = errors.New("saml: want exactly one assertion")
	// ErrUnsigned: the assertion carries no signature of its own. A
	// signed Response around an unsigned assertion is not enough.
	ErrUnsigned = errors.New("saml: assertion is not signed")
	// ErrSignature: a signature does not verify with the IdP certificate
	// from the configured metadata (a certificate inside the message is
	// never trusted), uses a refused algorithm (SHA-1 among them), or the
	// assertion's signature does not reference exactly the assertion by
	// its ID (URI="" included), uses a transform other than enveloped
	// signature and exclusive canonicalisation, or appears twice.
	ErrSignature = errors.New("saml: bad signature")
	// ErrUnsolicited: the response answers no request (IdP-initiated)
	// and IdP-initiated sign-in is off.
	ErrUnsolicited = errors.New("saml: unsolicited response")
	// ErrRequest: InResponseTo names no request this service provider
	// issued, one already answered or expired, or one issued to another
	// browser.
	ErrRequest = errors.New("saml: response to an unknown request")
	// ErrIssuer: the issuer is not the configured IdP.
	ErrIssuer = errors.New("saml: wrong issuer")
	// ErrAudience: the assertion is not restricted to this service
	// provider's entity id.
	ErrAudience = errors.New("saml: wrong audience")
	// ErrDestination: Destination or the bearer Recipient is not this
	// service provider's assertion consumer URL.
	ErrDestination = errors.New("saml: wrong destination or recipient")
	// ErrExpired: NotOnOrAfter (of the conditions, the bearer confirmation
	// or the AuthnStatement's SessionNotOnOrAfter) has passed or NotBefore
	// is ahead, beyond the allowed skew, or the assertion was issued too
	// long ago.
	ErrExpired = errors.New("saml: assertion expired or not yet valid")
	// ErrReplay: this assertion id was accepted before.
	ErrReplay = errors.New("saml: assertion replayed")
	// ErrStatus: the IdP answered with a status other than success.
	ErrStatus = errors.New("saml: IdP refused the sign-in")
	// ErrClaims: the subject has no usable stable key (no NameID, a
	// transient one, or a missing key attribute).
	ErrClaims = errors.New("saml: missing or malformed subject")
	// ErrUnavailable: the request store or the replay cache failed.
	ErrUnavailable = errors.New("saml: unavailable")
	// ErrInvalidConfig is wrapped by New for an unusable configuration.
	ErrInvalidConfig = errors.New("saml: invalid configuration")
)
