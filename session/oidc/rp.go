package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	goidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/sso"
)

// RelyingParty signs people in with one OpenID Connect provider: the
// authorization code flow with PKCE (S256), state bound to the browser by
// a cookie and usable once, nonce, and a fully checked ID token. Safe for
// concurrent use.
type RelyingParty struct {
	cfg        Config
	o          options
	oauth      oauth2.Config
	keys       *keySet
	endSession string
	accounts   Accounts
	mfaAMR     []string
	secure     bool
}

// defaultMFA are RFC 8176 amr values that mean more than one factor, or a
// factor beyond a password.
var defaultMFA = []string{"mfa", "otp", "hwk", "swk", "sc", "fido", "face", "fpt", "iris", "retina", "vbm"}

// asymmetric are the signature algorithms an ID token may use. HMAC is
// never accepted: a client secret is not the provider's key.
var asymmetric = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// New fetches the provider's discovery document and returns a relying
// party that hands verified identities to accounts. ctx bounds discovery
// only; nothing keeps it.
func New(ctx context.Context, cfg Config, accounts Accounts, opts ...Option) (*RelyingParty, error) {
	o := options{now: time.Now, leeway: time.Minute, keyInterval: time.Minute, pendingTTL: 10 * time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	if o.client == nil {
		o.client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.once == nil {
		o.once = sso.NewMemOnce(0, o.now)
	}
	if o.leeway < 0 || o.leeway > 5*time.Minute {
		return nil, fmt.Errorf("%w: leeway must be 0-5 minutes", ErrInvalidConfig)
	}
	if accounts == nil || cfg.Provider == "" || cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, fmt.Errorf("%w: provider, issuer, client id, redirect URL and accounts are required", ErrInvalidConfig)
	}
	if cfg.IssuerTemplate != "" && (len(cfg.Tenants) == 0 || !strings.Contains(cfg.IssuerTemplate, "{tenantid}")) {
		return nil, fmt.Errorf("%w: an issuer template needs {tenantid} and a list of allowed tenants", ErrInvalidConfig)
	}
	redirect, err := url.Parse(cfg.RedirectURL)
	if err != nil || !redirect.IsAbs() {
		return nil, fmt.Errorf("%w: redirect URL must be absolute", ErrInvalidConfig)
	}
	dctx := goidc.ClientContext(ctx, o.client)
	if cfg.IssuerTemplate != "" {
		dctx = goidc.InsecureIssuerURLContext(dctx, discoveredIssuer(cfg))
	}
	p, err := goidc.NewProvider(dctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %w", ErrUnavailable, err)
	}
	var meta struct {
		Issuer     string   `json:"issuer"`
		JWKS       string   `json:"jwks_uri"`
		EndSession string   `json:"end_session_endpoint"`
		Algs       []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKS == "" {
		return nil, fmt.Errorf("%w: discovery document has no jwks_uri", ErrUnavailable)
	}
	if cfg.IssuerTemplate != "" && !templateIssuer(cfg, meta.Issuer) {
		return nil, fmt.Errorf("%w: discovery names issuer %q, which is neither the template nor an allowed tenant's issuer", ErrInvalidConfig, meta.Issuer)
	}
	var algs []jose.SignatureAlgorithm
	for _, a := range meta.Algs {
		if slices.Contains(asymmetric, jose.SignatureAlgorithm(a)) {
			algs = append(algs, jose.SignatureAlgorithm(a))
		}
	}
	if len(algs) == 0 {
		algs = []jose.SignatureAlgorithm{jose.RS256}
	}
	scopes := cfg.Scopes
	if scopes == nil {
		scopes = []string{"profile", "email"}
	}
	rp := &RelyingParty{
		cfg: cfg, o: o, accounts: accounts, endSession: meta.EndSession,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: append([]string{goidc.ScopeOpenID}, scopes...)},
		keys:   &keySet{url: meta.JWKS, client: o.client, now: o.now, interval: o.keyInterval, algs: algs},
		mfaAMR: cfg.MFAMethods,
		secure: redirect.Scheme == "https",
	}
	if rp.o.responder == nil {
		rp.o.responder = CookieResponder{Secure: rp.secure}
	}
	if rp.mfaAMR == nil {
		rp.mfaAMR = defaultMFA
	}
	return rp, nil
}

// discoveredIssuer is the issuer go-oidc is told to expect; New checks the
// discovered one itself with templateIssuer.
func discoveredIssuer(cfg Config) string { return cfg.IssuerTemplate }

// templateIssuer reports whether iss, named by a multi-tenant discovery
// document, is the template itself (Entra's /organizations and /common
// documents) or the template filled with an allowed tenant.
func templateIssuer(cfg Config, iss string) bool {
	if iss == cfg.IssuerTemplate {
		return true
	}
	for _, t := range cfg.Tenants {
		if iss == strings.ReplaceAll(cfg.IssuerTemplate, "{tenantid}", t) {
			return true
		}
	}
	return false
}

// issuerParam reports whether iss, from the redirect's iss parameter, is
// the configured issuer or, with an issuer template, an allowed tenant's.
func (rp *RelyingParty) issuerParam(iss string) bool {
	if rp.cfg.IssuerTemplate == "" {
		return iss == rp.cfg.Issuer
	}
	for _, t := range rp.cfg.Tenants {
		if iss == strings.ReplaceAll(rp.cfg.IssuerTemplate, "{tenantid}", t) {
			return true
		}
	}
	return false
}

// KeyFetches returns how many times the provider's key set was fetched.
func (rp *RelyingParty) KeyFetches() int64 { return rp.keys.Fetches() }

// pending is a sign-in in progress, kept in the OnceStore under the hash
// of its state.
type pending struct {
	Binding  string `json:"b"` // sha256 of the browser cookie, hex
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
	Created  int64  `json:"t"`
}

const (
	maxParam    = 2048
	cookiePrefx = "sso-oidc-"
)

func random() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("oidc: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (rp *RelyingParty) storeKey(state string) string {
	return "oidc:" + rp.cfg.Provider + ":" + digest(state)
}

// cookieName names the browser-binding cookie of one sign-in, so parallel
// sign-ins in two tabs do not overwrite each other's.
func (rp *RelyingParty) cookieName(state string) string {
	n := cookiePrefx + digest("cookie:" + state)[:16]
	if rp.secure {
		return "__Host-" + n
	}
	return n
}

// AuthURL starts a sign-in: it records state, nonce and PKCE verifier for
// the browser and returns the provider's authorization URL and the cookie
// that binds the sign-in to this browser. returnTo is a local path to go
// back to afterwards (anything else becomes "/").
func (rp *RelyingParty) AuthURL(ctx context.Context, returnTo string) (string, *http.Cookie, error) {
	state, nonce, binding, verifier := random(), random(), random(), oauth2.GenerateVerifier()
	rec, _ := json.Marshal(pending{Binding: digest(binding), Nonce: nonce, Verifier: verifier, Return: sso.LocalPath(returnTo), Created: rp.o.now().Unix()})
	if err := rp.o.once.Put(ctx, rp.storeKey(state), rec, rp.o.pendingTTL); err != nil {
		return "", nil, fmt.Errorf("%w: state store: %w", ErrUnavailable, err)
	}
	opts := []oauth2.AuthCodeOption{goidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if rp.cfg.MaxAge > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.Itoa(int(rp.cfg.MaxAge/time.Second))))
	}
	c := &http.Cookie{Name: rp.cookieName(state), Value: binding, Path: "/", HttpOnly: true, Secure: rp.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(rp.o.pendingTTL / time.Second)}
	return rp.oauth.AuthCodeURL(state, opts...), c, nil
}

// Begin is the HTTP handler that starts a sign-in (GET
// /api/v1/auth/sso/oidc/login?return=/path): it sets the binding cookie
// and redirects the browser to the provider.
func (rp *RelyingParty) Begin(w http.ResponseWriter, r *http.Request) {
	u, c, err := rp.AuthURL(r.Context(), r.URL.Query().Get("return"))
	if err != nil {
		rp.accounts.Refused(r.Context(), rp.cfg.Provider, err)
		rp.o.responder.Failed(w, r, err)
		return
	}
	http.SetCookie(w, c)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
}

// Callback is the HTTP handler for the provider's redirect (GET
// /api/v1/auth/sso/oidc/callback): it finishes the sign-in with
// [RelyingParty.Finish] and answers through the Responder: by default a
// session cookie and a redirect to the path the sign-in began from.
func (rp *RelyingParty) Callback(w http.ResponseWriter, r *http.Request) {
	res, returnTo, err := rp.Finish(r)
	w.Header().Set("Cache-Control", "no-store")
	// The binding cookie has served its one use, whatever the outcome.
	if state := r.URL.Query().Get("state"); state != "" && len(state) <= maxParam {
		http.SetCookie(w, &http.Cookie{Name: rp.cookieName(state), Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: rp.secure, SameSite: http.SameSiteLaxMode})
	}
	if err != nil {
		rp.o.responder.Failed(w, r, err)
		return
	}
	rp.o.responder.SignedIn(w, r, res, returnTo)
}

// Finish checks the provider's redirect in r and signs the person in: the
// state is taken once and must belong to this browser's cookie; the code
// is exchanged with the PKCE verifier; the ID token's signature, issuer,
// tenant, audience, times, nonce and auth_time are checked; the identity
// goes to Accounts, which starts the session. It returns the result and
// the path to go back to. Every refusal is reported to Accounts.Refused
// and wraps one of the package's errors (or session/sso's).
func (rp *RelyingParty) Finish(r *http.Request) (sso.Result, string, error) {
	ctx := r.Context()
	id, rec, access, err := rp.verify(r)
	if err != nil {
		rp.accounts.Refused(ctx, rp.cfg.Provider, err)
		return sso.Result{}, "", err
	}
	if id.GroupsUnknown && rp.o.groups != nil {
		if gs, err := rp.o.groups(ctx, id, access); err == nil {
			id.Groups, id.GroupsUnknown = gs, false
		}
	}
	res, err := rp.accounts.SignIn(ctx, id, clientOf(r))
	if err != nil {
		return sso.Result{}, "", err
	}
	return res, rec.Return, nil
}

// clientOf fingerprints the browser.
func clientOf(r *http.Request) session.Client {
	return session.Client{Agent: session.NewFingerprint(r.UserAgent())}
}

// verify runs every protocol check and returns the identity.
func (rp *RelyingParty) verify(r *http.Request) (sso.Identity, pending, string, error) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" || len(state) > maxParam || len(q["state"]) != 1 {
		return sso.Identity{}, pending{}, "", fmt.Errorf("%w: missing or malformed", ErrState)
	}
	raw, err := rp.o.once.Take(ctx, rp.storeKey(state))
	if errors.Is(err, sso.ErrNotFound) {
		return sso.Identity{}, pending{}, "", fmt.Errorf("%w: unknown, expired or used", ErrState)
	} else if err != nil {
		return sso.Identity{}, pending{}, "", fmt.Errorf("%w: state store: %w", ErrUnavailable, err)
	}
	var rec pending
	if err := json.Unmarshal(raw, &rec); err != nil {
		return sso.Identity{}, pending{}, "", fmt.Errorf("%w: stored record", ErrState)
	}
	c, err := r.Cookie(rp.cookieName(state))
	if err != nil || subtle.ConstantTimeCompare([]byte(digest(c.Value)), []byte(rec.Binding)) != 1 {
		return sso.Identity{}, pending{}, "", fmt.Errorf("%w: issued to another browser", ErrState)
	}
	// RFC 9207: a provider that names itself in the redirect must name
	// the configured issuer; an answer from another one (a mix-up) is
	// refused before the code goes anywhere.
	if iss, ok := q["iss"]; ok && (len(iss) != 1 || !rp.issuerParam(iss[0])) {
		return sso.Identity{}, pending{}, "", fmt.Errorf("%w: iss parameter %.100q", ErrIssuer, strings.Join(iss, ","))
	}
	if e := q.Get("error"); e != "" {
		return sso.Identity{}, pending{}, "", fmt.Errorf("%w: %.64q", ErrProviderError, e)
	}
	code := q.Get("code")
	if code == "" || len(code) > maxParam || len(q["code"]) != 1 {
		return sso.Identity{}, pending{}, "", fmt.Errorf("%w: missing or malformed", ErrCode)
	}
	tok, err := rp.oauth.Exchange(goidc.ClientContext(ctx, rp.o.client), code, oauth2.VerifierOption(rec.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return sso.Identity{}, pending{}, "", fmt.Errorf("%w: %s", ErrCode, re.ErrorCode)
		}
		return sso.Identity{}, pending{}, "", fmt.Errorf("%w: token endpoint: %w", ErrUnavailable, err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	id, err := rp.checkIDToken(ctx, rawID, rec.Nonce)
	if err != nil {
		return sso.Identity{}, pending{}, "", err
	}
	return id, rec, tok.AccessToken, nil
}
