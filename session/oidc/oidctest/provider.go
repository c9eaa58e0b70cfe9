package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is a person who can sign in at the provider.
type User struct {
	Username, Password string
	// ID is the sub claim (and the provider's user id).
	ID string
	// OID and TID are Entra's object id and tenant id claims; TID
	// defaults to the provider's tenant.
	OID, TID string
	Email    string
	// EmailVerified sets email_verified (Entra sends no such claim; other
	// providers do).
	EmailVerified bool
	Name          string
	// Groups go in the groups claim. With Overage the claim is replaced
	// by Entra's _claim_names/_claim_sources link, as past 200 groups.
	Groups  []string
	Overage bool
	// AMR and ACR are the authentication methods and context asserted.
	AMR []string
	ACR string
	// Claims are extra ID token claims ("department": "bylaw").
	Claims map[string]any
}

// Config configures a Provider.
type Config struct {
	// Tenant, if set, makes the issuer Entra-shaped:
	// <server>/<tenant>/v2.0.
	Tenant                 string
	ClientID, ClientSecret string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Users                  []User
}

// Provider is a running OpenID Connect provider.
type Provider struct {
	srv    *httptest.Server
	issuer string
	cfg    Config
	key    *rsa.PrivateKey
	kid    string
	users  map[string]*User // by ID

	rewrite    atomic.Pointer[func(string) string]
	jwksHits   atomic.Int64
	tokenCalls atomic.Int64
}

// New starts a provider. Close it when done.
func New(cfg Config) (*Provider, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("oidctest: client id and secret are required")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, key: key, kid: randomID(), users: map[string]*User{}}
	us := userStore{byID: map[string]*storage.User{}}
	for i := range cfg.Users {
		u := cfg.Users[i]
		if u.TID == "" {
			u.TID = cfg.Tenant
		}
		p.users[u.ID] = &u
		us.byID[u.ID] = &storage.User{ID: u.ID, Username: u.Username, Password: u.Password, Email: u.Email,
			EmailVerified: u.EmailVerified, FirstName: u.Name, PreferredLanguage: language.English}
	}
	client := storage.WebClient(cfg.ClientID, cfg.ClientSecret, cfg.RedirectURIs...)
	st := &store{Storage: storage.NewStorageWithClients(us, map[string]*storage.Client{cfg.ClientID: client}), p: p}

	mux := http.NewServeMux()
	p.srv = httptest.NewUnstartedServer(mux)
	p.srv.Start()
	path := ""
	if cfg.Tenant != "" {
		path = "/" + cfg.Tenant + "/v2.0"
	}
	p.issuer = p.srv.URL + path
	opCfg := &op.Config{CryptoKey: [32]byte(randomBytes(32)), CodeMethodS256: true, AuthMethodPost: true, SupportedUILocales: []language.Tag{language.English}}
	prov, err := op.NewOpenIDProvider(p.issuer, opCfg, st, op.WithAllowInsecure(), op.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		p.srv.Close()
		return nil, err
	}
	opHandler := http.StripPrefix(path, p.intercept(prov))
	mux.Handle("/", opHandler)
	mux.HandleFunc("/login/username", p.login(st))
	return p, nil
}

// intercept counts key fetches and lets a test rewrite ID tokens.
func (p *Provider) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/keys":
			p.jwksHits.Add(1)
		case "/oauth/token":
			p.tokenCalls.Add(1)
			if f := p.rewrite.Load(); f != nil {
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				var m map[string]any
				if rec.Code == http.StatusOK && json.Unmarshal(body, &m) == nil {
					if s, ok := m["id_token"].(string); ok {
						m["id_token"] = (*f)(s)
						body, _ = json.Marshal(m)
					}
				}
				for k, v := range rec.Header() {
					if k != "Content-Length" {
						w.Header()[k] = v
					}
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(body)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// login serves the login form and checks the password.
func (p *Provider) login(st *store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		id := r.FormValue("authRequestID")
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<form method="POST"><input type="hidden" name="authRequestID" value="%s">`+
				`<input name="username"><input name="password" type="password"><button>Sign in</button></form>`, html.EscapeString(id))
			return
		}
		if err := st.CheckUsernamePassword(r.FormValue("username"), r.FormValue("password"), id); err != nil {
			http.Error(w, "wrong username or password", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, p.issuer+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
	}
}

// Issuer returns the issuer URL (the discovery document is under it).
func (p *Provider) Issuer() string { return p.issuer }

// URL returns the server's base URL.
func (p *Provider) URL() string { return p.srv.URL }

// Close stops the server.
func (p *Provider) Close() { p.srv.Close() }

// KeyFetches returns how many times the JWKS was served.
func (p *Provider) KeyFetches() int64 { return p.jwksHits.Load() }

// TokenCalls returns how many token requests were made.
func (p *Provider) TokenCalls() int64 { return p.tokenCalls.Load() }

// RewriteIDTokens passes every ID token the token endpoint issues through
// f before the relying party sees it; nil stops rewriting.
func (p *Provider) RewriteIDTokens(f func(idToken string) string) {
	if f == nil {
		p.rewrite.Store(nil)
		return
	}
	p.rewrite.Store(&f)
}

// Resign returns raw with its claims edited by edit, signed again with the
// provider's own key (a token the provider could have issued).
func (p *Provider) Resign(raw string, edit func(claims map[string]any)) string {
	claims := Claims(raw)
	edit(claims)
	return SignRS256(p.key, p.kid, claims)
}

// ResignHeader is Resign with a chosen protected header: header replaces
// the default one (alg RS256 is always set; add "kid" to name the key).
func (p *Provider) ResignHeader(raw string, header map[string]any) string {
	opts := &jose.SignerOptions{}
	for k, v := range header {
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, opts)
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(Claims(raw))
	jws, err := s.Sign(b)
	if err != nil {
		panic(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// KeyID returns the id of the provider's signing key.
func (p *Provider) KeyID() string { return p.kid }

// PublicKey returns the provider's signing key's public half.
func (p *Provider) PublicKey() *rsa.PublicKey { return &p.key.PublicKey }

// Claims decodes the payload of a JWT without verifying it.
func Claims(raw string) map[string]any {
	parts := strings.Split(raw, ".")
	m := map[string]any{}
	if len(parts) != 3 {
		return m
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(b, &m)
	return m
}

// SignRS256 signs claims with key under kid.
func SignRS256(key *rsa.PrivateKey, kid string, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		panic(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// Unsigned returns a token with the given header and claims and an empty
// or given signature segment: for "alg":"none" and HMAC forgeries.
func Unsigned(header, claims map[string]any, sig []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Login drives a browser through a sign-in: it GETs start (the relying
// party's begin URL), follows redirects to the provider's login form,
// submits username and password, and follows redirects back to the
// relying party. client should have a cookie jar. It returns the last
// response (the relying party's answer to its callback).
func (p *Provider) Login(ctx context.Context, client *http.Client, start, username, password string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, start, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/login/username" {
		return nil, fmt.Errorf("oidctest: expected the login page, got %s %d", resp.Request.URL, resp.StatusCode)
	}
	form := url.Values{"authRequestID": {resp.Request.URL.Query().Get("authRequestID")}, "username": {username}, "password": {password}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, p.srv.URL+"/login/username", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return client.Do(req)
}

// LoginURL drives the browser to the provider and signs in like Login, but
// stops before the redirect back and returns the callback URL the provider
// sent the browser to (with code and state).
func (p *Provider) LoginURL(ctx context.Context, client *http.Client, start, username, password string) (*url.URL, error) {
	c := *client
	var cb *url.URL
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != strings.TrimPrefix(p.srv.URL, "http://") {
			cb = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := p.Login(ctx, &c, start, username, password)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if cb == nil {
		return nil, fmt.Errorf("oidctest: no redirect back to the relying party (status %d)", resp.StatusCode)
	}
	return cb, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func randomID() string { return base64.RawURLEncoding.EncodeToString(randomBytes(12)) }

// userStore serves the example storage's user lookups.
type userStore struct{ byID map[string]*storage.User }

func (u userStore) GetUserByID(id string) *storage.User { return u.byID[id] }
func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, x := range u.byID {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u userStore) ExampleClientID() string { return "service" }

// store is zitadel's example storage with this provider's signing key,
// Entra-shaped ID token claims and the user's amr/acr.
type store struct {
	*storage.Storage
	p *Provider
}

type signingKey struct{ p *Provider }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.p.key }
func (k signingKey) ID() string                                  { return k.p.kid }

type publicKey struct{ p *Provider }

func (k publicKey) ID() string                         { return k.p.kid }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.p.key.PublicKey }

func (s *store) SigningKey(context.Context) (op.SigningKey, error) { return signingKey{s.p}, nil }
func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}
func (s *store) KeySet(context.Context) ([]op.Key, error) { return []op.Key{publicKey{s.p}}, nil }

// GetClientByClientID adds the configured post-logout redirect URIs.
func (s *store) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return logoutClient{Client: c, uris: s.p.cfg.PostLogoutRedirectURIs}, nil
}

type logoutClient struct {
	op.Client
	uris []string
}

func (c logoutClient) PostLogoutRedirectURIs() []string { return c.uris }

// authRequest reports the user's amr and acr.
type authRequest struct {
	op.AuthRequest
	p *Provider
}

func (a authRequest) GetAMR() []string {
	if u := a.p.users[a.GetSubject()]; u != nil && a.Done() {
		return u.AMR
	}
	return a.AuthRequest.GetAMR()
}

func (a authRequest) GetACR() string {
	if u := a.p.users[a.GetSubject()]; u != nil {
		return u.ACR
	}
	return ""
}

func (s *store) wrap(r op.AuthRequest, err error) (op.AuthRequest, error) {
	if err != nil {
		return nil, err
	}
	return authRequest{AuthRequest: r, p: s.p}, nil
}

func (s *store) CreateAuthRequest(ctx context.Context, r *zoidc.AuthRequest, userID string) (op.AuthRequest, error) {
	return s.wrap(s.Storage.CreateAuthRequest(ctx, r, userID))
}
func (s *store) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.wrap(s.Storage.AuthRequestByID(ctx, id))
}
func (s *store) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	return s.wrap(s.Storage.AuthRequestByCode(ctx, code))
}

// CreateAccessToken unwraps the request for the example storage, which
// looks at its concrete type.
func (s *store) CreateAccessToken(ctx context.Context, r op.TokenRequest) (string, time.Time, error) {
	if a, ok := r.(authRequest); ok {
		r = a.AuthRequest
	}
	return s.Storage.CreateAccessToken(ctx, r)
}

// SetUserinfoFromRequest puts Entra's claims in the ID token.
func (s *store) SetUserinfoFromRequest(ctx context.Context, ui *zoidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, r, scopes); err != nil {
		return err
	}
	u := s.p.users[r.GetSubject()]
	if u == nil {
		return nil
	}
	ui.Email = u.Email
	ui.EmailVerified = zoidc.Bool(u.EmailVerified)
	ui.Name = u.Name
	if u.TID != "" {
		ui.AppendClaims("tid", u.TID)
	}
	if u.OID != "" {
		ui.AppendClaims("oid", u.OID)
	}
	if u.Overage {
		ui.AppendClaims("_claim_names", map[string]any{"groups": "src1"})
		ui.AppendClaims("_claim_sources", map[string]any{"src1": map[string]any{
			"endpoint": "https://graph.microsoft.com/v1.0/users/" + u.OID + "/getMemberObjects"}})
	} else if u.Groups != nil {
		ui.AppendClaims("groups", u.Groups)
	}
	for k, v := range u.Claims {
		ui.AppendClaims(k, v)
	}
	return nil
}
