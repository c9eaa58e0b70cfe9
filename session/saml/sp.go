package saml

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/sso"
)

// Config describes this service provider and the one IdP it trusts.
type Config struct {
	// Provider is the IdP's name in session/sso's configuration ("adfs").
	Provider string
	// EntityID is this service provider's entity id (conventionally its
	// metadata URL); assertions must be restricted to it.
	EntityID string
	// ACSURL is the assertion consumer URL (POST
	// /api/v1/auth/sso/saml/callback); Destination and Recipient must be
	// it.
	ACSURL string
	// IdPMetadata is the IdP's metadata XML, obtained out of band from a
	// source you trust. Its signing certificates are the only ones
	// accepted: a certificate inside a message is never trusted.
	IdPMetadata []byte
	// Key and Certificate sign AuthnRequests and are published in the
	// metadata. Optional.
	Key         crypto.Signer
	Certificate *x509.Certificate

	// KeyAttribute names the attribute holding the stable key (ADFS
	// objectGUID, an employee id). Empty: the NameID, which must then not
	// be transient.
	KeyAttribute string
	// EmailAttribute names the email attribute (default mail,
	// urn:oid:0.9.2342.19200300.100.1.3); GroupsAttribute the groups
	// (default eduPersonAffiliation, urn:oid:1.3.6.1.4.1.5923.1.1.1.1, or
	// http://schemas.microsoft.com/ws/2008/06/identity/claims/groups for
	// ADFS).
	EmailAttribute, GroupsAttribute string
	// EmailVerified says the IdP's email attribute is verified (the IdP is
	// the city's own directory); otherwise emails never link accounts.
	EmailVerified bool
	// MFAContexts are AuthnContextClassRef values that mean a second
	// factor (e.g. http://schemas.microsoft.com/claims/multipleauthn,
	// urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken).
	MFAContexts []string
	// AllowIdPInitiated accepts unsolicited responses. Off by default:
	// an unsolicited response cannot be tied to a browser that asked for
	// it, so a captured assertion can be pushed into a victim's browser.
	AllowIdPInitiated bool
}

// Accounts is what the service provider hands a verified identity to;
// *sso.Service implements it.
type Accounts interface {
	SignIn(ctx context.Context, id sso.Identity, client session.Client) (sso.Result, error)
	Refused(ctx context.Context, provider string, err error)
}

// Responder writes the HTTP answer of [ServiceProvider.ACS]; it is
// [sso.Responder], shared with session/oidc.
type Responder = sso.Responder

// An Option configures a [ServiceProvider].
type Option func(*options)

type options struct {
	now       func() time.Time
	skew      time.Duration
	once      sso.OnceStore
	replay    sso.ReplayCache
	ttl       time.Duration
	responder Responder
}

// WithClock sets the clock for this package's own time checks and the
// stores (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSkew sets the allowed clock difference with the IdP (default 60 s,
// at most 3 minutes).
func WithSkew(d time.Duration) Option { return func(o *options) { o.skew = d } }

// WithOnceStore keeps issued request ids in s (default: in memory, one
// process). Several processes need a shared one (adapters/redisstore).
func WithOnceStore(s sso.OnceStore) Option { return func(o *options) { o.once = s } }

// WithReplayCache remembers accepted assertion ids in c (default: in
// memory, one process). Several processes must share one
// (adapters/redisstore), or an assertion replays on another process.
func WithReplayCache(c sso.ReplayCache) Option { return func(o *options) { o.replay = c } }

// WithRequestTTL sets how long an issued request may wait for its answer
// (default 10 minutes).
func WithRequestTTL(d time.Duration) Option { return func(o *options) { o.ttl = d } }

// WithResponder sets how ACS answers (default [CookieResponder]).
func WithResponder(r Responder) Option { return func(o *options) { o.responder = r } }

// ServiceProvider is a SAML 2.0 service provider for one IdP, built on
// crewjam/saml's ServiceProvider with stricter checks around it. Safe for
// concurrent use.
type ServiceProvider struct {
	cfg      Config
	o        options
	sp       *crewjam.ServiceProvider
	acs      url.URL
	accounts Accounts
	secure   bool
}

// New returns a service provider that hands verified identities to
// accounts.
func New(cfg Config, accounts Accounts, opts ...Option) (*ServiceProvider, error) {
	o := options{now: time.Now, skew: time.Minute, ttl: 10 * time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	if o.skew < 0 || o.skew > 3*time.Minute {
		return nil, fmt.Errorf("%w: skew must be 0-3 minutes", ErrInvalidConfig)
	}
	if o.once == nil {
		o.once = sso.NewMemOnce(0, o.now)
	}
	if o.replay == nil {
		o.replay = sso.NewMemReplay(0, o.now)
	}
	if accounts == nil || cfg.Provider == "" || cfg.EntityID == "" || cfg.ACSURL == "" {
		return nil, fmt.Errorf("%w: provider, entity id, ACS URL and accounts are required", ErrInvalidConfig)
	}
	acs, err := url.Parse(cfg.ACSURL)
	if err != nil || !acs.IsAbs() {
		return nil, fmt.Errorf("%w: ACS URL must be absolute", ErrInvalidConfig)
	}
	if len(cfg.IdPMetadata) == 0 || len(cfg.IdPMetadata) > 1<<20 {
		return nil, fmt.Errorf("%w: IdP metadata is required (at most 1 MiB)", ErrInvalidConfig)
	}
	var md crewjam.EntityDescriptor
	if err := xml.Unmarshal(cfg.IdPMetadata, &md); err != nil || md.EntityID == "" || len(md.IDPSSODescriptors) == 0 {
		return nil, fmt.Errorf("%w: IdP metadata is not an IdP entity descriptor", ErrInvalidConfig)
	}
	if cfg.EmailAttribute == "" {
		cfg.EmailAttribute = "urn:oid:0.9.2342.19200300.100.1.3"
	}
	if cfg.GroupsAttribute == "" {
		cfg.GroupsAttribute = "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"
	}
	entity, _ := url.Parse(cfg.EntityID)
	sp := &crewjam.ServiceProvider{
		EntityID: cfg.EntityID, Key: cfg.Key, Certificate: cfg.Certificate,
		AcsURL: *acs, IDPMetadata: &md,
		AllowIDPInitiated:       cfg.AllowIdPInitiated,
		RejectUnknownConditions: true,
		RejectSHA1Signatures:    true,
		AuthnNameIDFormat:       crewjam.UnspecifiedNameIDFormat,
	}
	if entity != nil {
		sp.MetadataURL = *entity
	}
	if o.responder == nil {
		o.responder = CookieResponder{Secure: acs.Scheme == "https"}
	}
	return &ServiceProvider{cfg: cfg, o: o, sp: sp, acs: *acs, accounts: accounts, secure: acs.Scheme == "https"}, nil
}

// Metadata returns this service provider's metadata XML, for the IdP.
func (s *ServiceProvider) Metadata() ([]byte, error) {
	b, err := xml.MarshalIndent(s.sp.Metadata(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saml: metadata: %w", err)
	}
	return b, nil
}

// MetadataHandler serves the metadata (GET /api/v1/auth/sso/saml/metadata).
func (s *ServiceProvider) MetadataHandler(w http.ResponseWriter, _ *http.Request) {
	b, err := s.Metadata()
	if err != nil {
		http.Error(w, "metadata unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(b)
}

// request is an issued AuthnRequest, kept under its id until answered.
type request struct {
	Binding string `json:"b"` // sha256 of the browser cookie, hex
	Return  string `json:"r"`
}

func random() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("saml: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (s *ServiceProvider) storeKey(id string) string {
	return "saml:" + s.cfg.Provider + ":" + digest(id)
}

func (s *ServiceProvider) cookieName(id string) string {
	n := "sso-saml-" + digest("cookie:" + id)[:16]
	if s.secure {
		return "__Host-" + n
	}
	return n
}

// AuthURL issues an AuthnRequest (HTTP-Redirect binding, answer by
// HTTP-POST), records its id for this browser, and returns the IdP URL to
// send the browser to and the binding cookie.
func (s *ServiceProvider) AuthURL(ctx context.Context, returnTo string) (string, *http.Cookie, error) {
	dest := s.sp.GetSSOBindingLocation(crewjam.HTTPRedirectBinding)
	if dest == "" {
		return "", nil, fmt.Errorf("%w: the IdP metadata has no HTTP-Redirect SSO endpoint", ErrInvalidConfig)
	}
	req, err := s.sp.MakeAuthenticationRequest(dest, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		return "", nil, fmt.Errorf("%w: authn request: %w", ErrUnavailable, err)
	}
	binding := random()
	rec, _ := json.Marshal(request{Binding: digest(binding), Return: sso.LocalPath(returnTo)})
	if err := s.o.once.Put(ctx, s.storeKey(req.ID), rec, s.o.ttl); err != nil {
		return "", nil, fmt.Errorf("%w: request store: %w", ErrUnavailable, err)
	}
	u, err := req.Redirect("", s.sp)
	if err != nil {
		return "", nil, fmt.Errorf("%w: authn request: %w", ErrUnavailable, err)
	}
	// The IdP posts the answer cross-site: a Lax cookie would not come
	// with it, so over TLS the cookie is SameSite=None; Secure.
	c := &http.Cookie{Name: s.cookieName(req.ID), Value: binding, Path: "/", HttpOnly: true, MaxAge: int(s.o.ttl / time.Second)}
	if s.secure {
		c.Secure, c.SameSite = true, http.SameSiteNoneMode
	}
	return u.String(), c, nil
}

// Begin is the HTTP handler that starts an SP-initiated sign-in (GET
// /api/v1/auth/sso/saml/login?return=/path).
func (s *ServiceProvider) Begin(w http.ResponseWriter, r *http.Request) {
	u, c, err := s.AuthURL(r.Context(), r.URL.Query().Get("return"))
	if err != nil {
		s.accounts.Refused(r.Context(), s.cfg.Provider, err)
		s.o.responder.Failed(w, r, err)
		return
	}
	http.SetCookie(w, c)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}

// ACS is the HTTP handler of the assertion consumer service (POST
// /api/v1/auth/sso/saml/callback). It finishes the sign-in with
// [ServiceProvider.Finish] and answers through the Responder.
func (s *ServiceProvider) ACS(w http.ResponseWriter, r *http.Request) {
	res, returnTo, err := s.Finish(w, r)
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		s.o.responder.Failed(w, r, err)
		return
	}
	s.o.responder.SignedIn(w, r, res, returnTo)
}

// maxForm bounds the posted form: the base64 of MaxResponse and a relay
// state.
const maxForm = MaxResponse*4/3 + 8<<10

// Finish checks the posted response and signs the person in. w is used
// only to bound the request body. Every refusal is reported to
// Accounts.Refused and wraps one of the package's errors (or
// session/sso's); it creates nothing.
func (s *ServiceProvider) Finish(w http.ResponseWriter, r *http.Request) (sso.Result, string, error) {
	ctx := r.Context()
	id, rec, err := s.verify(w, r)
	if err != nil {
		s.accounts.Refused(ctx, s.cfg.Provider, err)
		return sso.Result{}, "", err
	}
	res, err := s.accounts.SignIn(ctx, id, session.Client{Agent: session.NewFingerprint(r.UserAgent())})
	if err != nil {
		return sso.Result{}, "", err
	}
	return res, rec.Return, nil
}

func (s *ServiceProvider) verify(w http.ResponseWriter, r *http.Request) (sso.Identity, request, error) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		return sso.Identity{}, request{}, fmt.Errorf("%w: the response must be posted", ErrMalformed)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return sso.Identity{}, request{}, fmt.Errorf("%w: form over %d bytes", ErrTooLarge, maxForm)
		}
		return sso.Identity{}, request{}, fmt.Errorf("%w: form: %w", ErrMalformed, err)
	}
	if len(r.PostForm["SAMLResponse"]) != 1 {
		return sso.Identity{}, request{}, fmt.Errorf("%w: want one SAMLResponse", ErrMalformed)
	}
	enc := r.PostForm.Get("SAMLResponse")
	if len(enc) > maxForm {
		return sso.Identity{}, request{}, fmt.Errorf("%w: response", ErrTooLarge)
	}
	doc, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, enc))
	if err != nil {
		return sso.Identity{}, request{}, fmt.Errorf("%w: base64: %w", ErrMalformed, err)
	}
	shape, err := preflight(doc)
	if err != nil {
		return sso.Identity{}, request{}, err
	}
	var rec request
	var possible []string
	if shape.InResponseTo == "" {
		if !s.cfg.AllowIdPInitiated {
			return sso.Identity{}, request{}, ErrUnsolicited
		}
		rec.Return = "/"
	} else {
		if len(shape.InResponseTo) > 256 {
			return sso.Identity{}, request{}, fmt.Errorf("%w: InResponseTo too long", ErrRequest)
		}
		raw, err := s.o.once.Take(ctx, s.storeKey(shape.InResponseTo))
		if errors.Is(err, sso.ErrNotFound) {
			return sso.Identity{}, request{}, fmt.Errorf("%w: unknown, expired or already answered", ErrRequest)
		} else if err != nil {
			return sso.Identity{}, request{}, fmt.Errorf("%w: request store: %w", ErrUnavailable, err)
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			return sso.Identity{}, request{}, fmt.Errorf("%w: stored record", ErrRequest)
		}
		c, err := r.Cookie(s.cookieName(shape.InResponseTo))
		if err != nil || subtle.ConstantTimeCompare([]byte(digest(c.Value)), []byte(rec.Binding)) != 1 {
			return sso.Identity{}, request{}, fmt.Errorf("%w: issued to another browser", ErrRequest)
		}
		possible = []string{shape.InResponseTo}
	}
	a, err := s.sp.ParseXMLResponse(doc, possible, s.acs)
	if err != nil {
		return sso.Identity{}, request{}, classify(err)
	}
	if a.ID != shape.AssertionID {
		return sso.Identity{}, request{}, fmt.Errorf("%w: the verified assertion is not the one in the response", ErrAssertionCount)
	}
	exp, err := s.checkTimes(a)
	if err != nil {
		return sso.Identity{}, request{}, err
	}
	if err := s.o.replay.Consume(ctx, s.cfg.Provider+":"+a.ID, exp); err != nil {
		if errors.Is(err, sso.ErrReplay) {
			return sso.Identity{}, request{}, ErrReplay
		}
		return sso.Identity{}, request{}, fmt.Errorf("%w: replay cache: %w", ErrUnavailable, err)
	}
	id, err := s.identity(a)
	return id, rec, err
}

func dropSpace(r rune) rune {
	if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
		return -1
	}
	return r
}

// classify maps crewjam's refusals onto this package's errors, keeping
// both in the chain.
func classify(err error) error {
	var bad crewjam.ErrBadStatus
	switch {
	case errors.As(err, &bad):
		return fmt.Errorf("%w: %w", ErrStatus, err)
	case errors.Is(err, crewjam.ErrInvalidSignature), errors.Is(err, crewjam.ErrUntrustedCertificate), errors.Is(err, crewjam.ErrCertificateNotValidNow):
		return fmt.Errorf("%w: %w", ErrSignature, err)
	case errors.Is(err, crewjam.ErrExpired), errors.Is(err, crewjam.ErrNotYetValid):
		return fmt.Errorf("%w: %w", ErrExpired, err)
	case errors.Is(err, crewjam.ErrAudienceMismatch):
		return fmt.Errorf("%w: %w", ErrAudience, err)
	case errors.Is(err, crewjam.ErrDestinationMismatch):
		return fmt.Errorf("%w: %w", ErrDestination, err)
	case errors.Is(err, crewjam.ErrRequestIDMismatch):
		return fmt.Errorf("%w: %w", ErrRequest, err)
	case errors.Is(err, crewjam.ErrIssuerMismatch):
		return fmt.Errorf("%w: %w", ErrIssuer, err)
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

// checkTimes applies this package's own clock and skew to the
// assertion's windows (on top of crewjam's checks) and returns when the
// assertion stops being valid, for the replay cache.
func (s *ServiceProvider) checkTimes(a *crewjam.Assertion) (time.Time, error) {
	now, skew := s.o.now(), s.o.skew
	exp := a.IssueInstant.Add(crewjam.MaxIssueDelay + skew)
	if c := a.Conditions; c != nil {
		if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(skew)) {
			return time.Time{}, fmt.Errorf("%w: NotBefore is ahead", ErrExpired)
		}
		if !c.NotOnOrAfter.IsZero() {
			if !now.Before(c.NotOnOrAfter.Add(skew)) {
				return time.Time{}, fmt.Errorf("%w: NotOnOrAfter has passed", ErrExpired)
			}
			exp = c.NotOnOrAfter.Add(skew)
		}
	}
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			if d := sc.SubjectConfirmationData; d != nil && !d.NotOnOrAfter.IsZero() && !now.Before(d.NotOnOrAfter.Add(skew)) {
				return time.Time{}, fmt.Errorf("%w: the bearer confirmation has expired", ErrExpired)
			}
		}
	}
	for _, st := range a.AuthnStatements {
		if st.SessionNotOnOrAfter != nil && !st.SessionNotOnOrAfter.IsZero() && !now.Before(st.SessionNotOnOrAfter.Add(skew)) {
			return time.Time{}, fmt.Errorf("%w: the IdP session (SessionNotOnOrAfter) has ended", ErrExpired)
		}
	}
	if a.IssueInstant.After(now.Add(skew)) || now.Sub(a.IssueInstant) > crewjam.MaxIssueDelay+skew {
		return time.Time{}, fmt.Errorf("%w: issued outside the allowed delay", ErrExpired)
	}
	return exp.Add(skew), nil
}

// identity reads the subject and attributes from the verified assertion.
func (s *ServiceProvider) identity(a *crewjam.Assertion) (sso.Identity, error) {
	id := sso.Identity{Provider: s.cfg.Provider, Method: session.MethodSAML, EmailVerified: s.cfg.EmailVerified, Attributes: map[string][]string{}}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, v := range at.Values {
				id.Attributes[at.Name] = append(id.Attributes[at.Name], v.Value)
				if at.FriendlyName != "" && at.FriendlyName != at.Name {
					id.Attributes[at.FriendlyName] = append(id.Attributes[at.FriendlyName], v.Value)
				}
			}
		}
	}
	if s.cfg.KeyAttribute != "" {
		vs := id.Attributes[s.cfg.KeyAttribute]
		if len(vs) != 1 || vs[0] == "" {
			return sso.Identity{}, fmt.Errorf("%w: want one %s value", ErrClaims, s.cfg.KeyAttribute)
		}
		id.Key = vs[0]
	} else {
		if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value == "" {
			return sso.Identity{}, fmt.Errorf("%w: no NameID", ErrClaims)
		}
		if f := strings.TrimSpace(a.Subject.NameID.Format); strings.EqualFold(f, string(crewjam.TransientNameIDFormat)) || strings.HasSuffix(strings.ToLower(f), ":transient") {
			return sso.Identity{}, fmt.Errorf("%w: a transient NameID cannot identify a person twice", ErrClaims)
		}
		id.Key = a.Subject.NameID.Value
	}
	if vs := id.Attributes[s.cfg.EmailAttribute]; len(vs) > 0 {
		if len(vs) != 1 {
			return sso.Identity{}, fmt.Errorf("%w: several emails", ErrClaims)
		}
		id.Email = vs[0]
	}
	id.Groups = id.Attributes[s.cfg.GroupsAttribute]
	for _, st := range a.AuthnStatements {
		if ref := st.AuthnContext.AuthnContextClassRef; ref != nil {
			id.ACR = ref.Value
			if slices.Contains(s.cfg.MFAContexts, ref.Value) {
				id.MFA = true
			}
		}
	}
	return id, nil
}

// CookieResponder is the default [Responder] ([sso.CookieResponder]).
type CookieResponder = sso.CookieResponder
