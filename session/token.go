package session

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize is the longest token accepted, in bytes. Longer input is
// refused with [ErrMalformed] before it is decoded or hashed. Our tokens
// are a few hundred bytes.
const MaxTokenSize = 4096

// claims are a session token's claims. Only registered claims and the
// session id travel in the token; everything else is in the server-side
// record. Every claim has one JSON type: a string where a string is
// expected, a number for a date (see numericDate).
type claims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.ClaimStrings `json:"aud"`
	ExpiresAt *numericDate     `json:"exp"`
	NotBefore *numericDate     `json:"nbf"`
	IssuedAt  *numericDate     `json:"iat"`
	SID       string           `json:"sid"`
}

// numericDate is a JWT NumericDate that is strict about its JSON: a
// number (golang-jwt also takes a numeric string) within year 9999 either
// side of 1970 (a larger value would wrap around when converted to a time:
// an nbf of 1e300 would become a date in the distant past).
type numericDate struct{ jwt.NumericDate }

// maxNumericDate is 9999-12-31T23:59:59Z in Unix seconds.
const maxNumericDate = 253402300799

func newNumericDate(t time.Time) *numericDate { return &numericDate{*jwt.NewNumericDate(t)} }

// UnmarshalJSON accepts a JSON number within ±maxNumericDate.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || !(b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		return errors.New("a date claim is not a JSON number")
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f > maxNumericDate || f < -maxNumericDate {
		return errors.New("a date claim is out of range")
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

func dateOf(d *numericDate) (*jwt.NumericDate, error) {
	if d == nil {
		return nil, nil
	}
	return &d.NumericDate, nil
}

// The jwt.Claims methods, through which golang-jwt validates.

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return dateOf(c.ExpiresAt) }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return dateOf(c.NotBefore) }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return dateOf(c.IssuedAt) }
func (c *claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }

// Validate is called by golang-jwt after the standard checks (and so after
// the signature): the claims golang-jwt does not require, and aud exactly
// ours.
func (c *claims) Validate() error {
	switch {
	case c.IssuedAt == nil:
		return fmt.Errorf("%w: iat", jwt.ErrTokenRequiredClaimMissing)
	case c.NotBefore == nil:
		return fmt.Errorf("%w: nbf", jwt.ErrTokenRequiredClaimMissing)
	case c.Subject == "":
		return fmt.Errorf("%w: sub", jwt.ErrTokenRequiredClaimMissing)
	case c.SID == "":
		return fmt.Errorf("%w: sid", jwt.ErrTokenRequiredClaimMissing)
	case len(c.Audience) != 1:
		// An audience list that holds ours and another is refused: a token
		// minted for several services can be replayed by any of them.
		return fmt.Errorf("%w: aud must name exactly this audience", jwt.ErrTokenInvalidAudience)
	}
	return nil
}

// tokens signs and parses session tokens with one pinned configuration.
type tokens struct {
	keys     *Keyring
	issuer   string
	audience string
	leeway   time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

func newTokens(keys *Keyring, issuer, audience string, leeway time.Duration, now func() time.Time) *tokens {
	t := &tokens{keys: keys, issuer: issuer, audience: audience, leeway: leeway, now: now}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{string(EdDSA), string(ES256)}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	return t
}

// sign returns a token for s with the current signing key.
func (t *tokens) sign(s Session) (string, error) {
	k := t.keys.signer()
	if k.Private == nil {
		return "", fmt.Errorf("%w: the keyring's signing key %s has no private key (verify-only)", ErrInvalidInput, k.ID)
	}
	if !k.Retires.IsZero() && !t.now().Before(k.Retires) {
		return "", fmt.Errorf("%w: the signing key %s is retired; rotate", ErrInvalidInput, k.ID)
	}
	c := &claims{
		Issuer:    t.issuer,
		Subject:   s.Subject,
		Audience:  jwt.ClaimStrings{t.audience},
		ExpiresAt: newNumericDate(s.Expires),
		NotBefore: newNumericDate(s.Created),
		IssuedAt:  newNumericDate(s.Created),
		SID:       s.ID,
	}
	var m jwt.SigningMethod = jwt.SigningMethodEdDSA
	if k.Alg == ES256 {
		m = jwt.SigningMethodES256
	}
	tok := jwt.NewWithClaims(m, c)
	tok.Header["kid"] = k.ID
	str, err := tok.SignedString(k.Private)
	if err != nil {
		return "", fmt.Errorf("session: sign: %w", err)
	}
	return str, nil
}

// parsed is what a verified token says.
type parsed struct {
	sid, subject, kid string
	issuedAt          time.Time
	expires           time.Time
}

// parse verifies raw's signature and then its claims, in that order, and
// classifies failures into this package's sentinels.
func (t *tokens) parse(raw string) (parsed, error) {
	if len(raw) > MaxTokenSize {
		return parsed{}, tokenErr(ErrMalformed, fmt.Errorf("token longer than %d bytes", MaxTokenSize))
	}
	if err := compact(raw); err != nil {
		return parsed{}, tokenErr(ErrMalformed, err)
	}
	var c claims
	tok, err := t.parser.ParseWithClaims(raw, &c, t.keyFor)
	if err != nil {
		return parsed{}, classify(err)
	}
	if err := checkHeader(tok.Header); err != nil {
		return parsed{}, tokenErr(ErrMalformed, err)
	}
	kid, _ := tok.Header["kid"].(string)
	return parsed{sid: c.SID, subject: c.Subject, kid: kid, issuedAt: c.IssuedAt.Time, expires: c.ExpiresAt.Time}, nil
}

// compact checks that raw is three base64url segments joined by two dots
// and holds no other character. The base64 decoder skips CR and LF, so
// without this a token with line breaks added would verify as the token
// without them: one session under many token strings. (An empty segment
// is left to golang-jwt: an empty signature is what alg "none" sends, and
// is reported as a bad signature.)
func compact(raw string) error {
	dots := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '.':
			dots++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return errors.New("character outside the base64url alphabet")
		}
	}
	if dots != 2 {
		return errors.New("not three segments")
	}
	return nil
}

// checkHeader refuses header parameters that would change how the token
// must be understood: crit names extensions that must be understood and
// none is implemented here (RFC 7515 4.1.11), and typ, when present, must
// be JWT (compared case-insensitively, as media types are), so a JWT of
// another type signed with the same key is not taken for a session token.
// Key-locating parameters (jku, jwk, x5u, x5c) are never read: only kid
// selects a key, and only from the Keyring.
func checkHeader(h map[string]any) error {
	if _, ok := h["crit"]; ok {
		return errors.New("crit header: no extension is supported")
	}
	if typ, ok := h["typ"]; ok {
		if s, isStr := typ.(string); !isStr || !strings.EqualFold(s, "JWT") {
			return errors.New("typ header is not JWT")
		}
	}
	return nil
}

// errKid is returned by keyFor; classify maps it to ErrUnknownKey.
var errKid = errors.New("kid missing, unknown or retired")

// errAlgKey is returned by keyFor when the header's alg is not the one the
// key is pinned to.
var errAlgKey = errors.New("algorithm is not the key's")

// keyFor is golang-jwt's Keyfunc: the key named by kid, if it verifies now
// and is pinned to the header's algorithm.
func (t *tokens) keyFor(tok *jwt.Token) (any, error) {
	kid, _ := tok.Header["kid"].(string)
	k, ok := t.keys.verifier(kid, t.now())
	if !ok {
		return nil, errKid
	}
	if tok.Method.Alg() != string(k.Alg) {
		return nil, errAlgKey
	}
	return k.Public, nil
}

// classify maps a golang-jwt error to a TokenError. The signature is
// checked first: golang-jwt v5 validates claims only after the signature
// verified, and a signature error is reported as such even if the claims
// are also bad (CVE-2024-51744 was the opposite order).
func classify(err error) error {
	switch {
	case errors.Is(err, errKid):
		return tokenErr(ErrUnknownKey, nil)
	case errors.Is(err, errAlgKey), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return tokenErr(ErrBadSignature, err)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// What remains unverifiable is an alg that is missing or that
		// golang-jwt does not know ("None", "NONE"): not one we pin.
		return tokenErr(ErrBadSignature, err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return tokenErr(ErrMalformed, err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return tokenErr(ErrExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return tokenErr(ErrNotYetValid, err)
	}
	return tokenErr(ErrClaims, err)
}
