package oidc_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/session/oidc"
	"github.com/civic-platform/security/session/oidc/oidctest"
	"github.com/civic-platform/security/session/sso"
)

// errResponder records the error Callback answered with.
type errResponder struct {
	mu  sync.Mutex
	err error
	ok  int
}

func (r *errResponder) SignedIn(w http.ResponseWriter, _ *http.Request, _ sso.Result, _ string) {
	r.mu.Lock()
	r.ok++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *errResponder) Failed(w http.ResponseWriter, _ *http.Request, err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	http.Error(w, "sign-in failed", http.StatusUnauthorized)
}

func (r *errResponder) last() (error, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err, r.ok
}

var attacker = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func TestHostileIDTokens(t *testing.T) {
	t.Parallel()
	pubPEM := func(e *env) []byte {
		der, _ := x509.MarshalPKIXPublicKey(e.idp.PublicKey())
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	resign := func(edit func(map[string]any)) func(*env, string) string {
		return func(e *env, raw string) string { return e.idp.Resign(raw, edit) }
	}
	tests := []struct {
		name    string
		rewrite func(e *env, raw string) string
		want    error
	}{
		{"missing nonce", resign(func(c map[string]any) { delete(c, "nonce") }), oidc.ErrNonce},
		{"wrong nonce", resign(func(c map[string]any) { c["nonce"] = "attacker-chosen" }), oidc.ErrNonce},
		{"nonce of another type", resign(func(c map[string]any) { c["nonce"] = 42 }), oidc.ErrMalformed},
		{"another issuer", resign(func(c map[string]any) { c["iss"] = "https://login.microsoftonline.com/evil/v2.0" }), oidc.ErrIssuer},
		{"another tenant", resign(func(c map[string]any) { c["tid"] = "00000000-0000-0000-0000-00000000beef" }), oidc.ErrTenant},
		{"audience mismatch", resign(func(c map[string]any) { c["aud"] = "another-app" }), oidc.ErrAudience},
		{"extra audience without azp", resign(func(c map[string]any) { c["aud"] = []string{clientID, "another-app"}; delete(c, "azp") }), oidc.ErrAudience},
		{"azp of another client", resign(func(c map[string]any) { c["azp"] = "another-app" }), oidc.ErrAudience},
		{"expired", resign(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), oidc.ErrExpired},
		{"no exp", resign(func(c map[string]any) { delete(c, "exp") }), oidc.ErrExpired},
		{"issued in the future", resign(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }), oidc.ErrExpired},
		{"missing oid", resign(func(c map[string]any) { delete(c, "oid") }), oidc.ErrClaims},
		{"alg none", func(e *env, raw string) string {
			return oidctest.Unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": e.idp.KeyID()}, oidctest.Claims(raw), nil)
		}, oidc.ErrSignature},
		{"alg none, capitalised", func(e *env, raw string) string {
			return oidctest.Unsigned(map[string]any{"alg": "None", "kid": e.idp.KeyID()}, oidctest.Claims(raw), nil)
		}, oidc.ErrSignature},
		{"HS256 with the public key as secret", func(e *env, raw string) string {
			h := map[string]any{"alg": "HS256", "typ": "JWT", "kid": e.idp.KeyID()}
			unsigned := oidctest.Unsigned(h, oidctest.Claims(raw), nil)
			mac := hmac.New(sha256.New, pubPEM(e))
			mac.Write([]byte(strings.TrimSuffix(unsigned, ".")))
			return strings.TrimSuffix(unsigned, ".") + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		}, oidc.ErrSignature},
		{"signed by another key under the provider's kid", func(e *env, raw string) string {
			return oidctest.SignRS256(attacker, e.idp.KeyID(), oidctest.Claims(raw))
		}, oidc.ErrSignature},
		{"signed by another key under a new kid", func(e *env, raw string) string {
			return oidctest.SignRS256(attacker, "attacker-kid", oidctest.Claims(raw))
		}, oidc.ErrUnknownKey},
		{"tampered payload", func(e *env, raw string) string {
			p := strings.Split(raw, ".")
			c := oidctest.Claims(raw)
			c["oid"] = "someone-else"
			forged := oidctest.Unsigned(map[string]any{"alg": "RS256"}, c, nil)
			return p[0] + "." + strings.Split(forged, ".")[1] + "." + p[2]
		}, oidc.ErrSignature},
		{"typed as an access token", func(e *env, raw string) string {
			return e.idp.ResignHeader(raw, map[string]any{"kid": e.idp.KeyID(), "typ": "at+jwt"})
		}, oidc.ErrSignature},
		{"typed as a logout token", func(e *env, raw string) string {
			return e.idp.ResignHeader(raw, map[string]any{"kid": e.idp.KeyID(), "typ": "logout+jwt"})
		}, oidc.ErrSignature},
		{"nested JWT content type", func(e *env, raw string) string {
			return e.idp.ResignHeader(raw, map[string]any{"kid": e.idp.KeyID(), "typ": "JWT", "cty": "JWT"})
		}, oidc.ErrSignature},
		{"typ of another type", func(e *env, raw string) string {
			return e.idp.ResignHeader(raw, map[string]any{"kid": e.idp.KeyID(), "typ": 7})
		}, oidc.ErrSignature},
		{"oversized", func(e *env, raw string) string { return raw + strings.Repeat("A", oidc.MaxIDToken) }, oidc.ErrMalformed},
		{"not a JWS", func(e *env, raw string) string { return "not-a-token" }, oidc.ErrMalformed},
		{"missing", func(e *env, raw string) string { return "" }, oidc.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &errResponder{}
			e := newEnv(t, envOpts{opts: []oidc.Option{oidc.WithResponder(rec)}})
			e.idp.RewriteIDTokens(func(raw string) string { return tt.rewrite(e, raw) })
			resp, err := e.idp.Login(context.Background(), browser(t), e.srv.URL+"/login", staff.Username, staff.Password)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got, ok := rec.last()
			if ok != 0 || !errors.Is(got, tt.want) {
				t.Fatalf("err = %v (signed in %d), want %v", got, ok, tt.want)
			}
			e.nothingCreated(t)
		})
	}
}

// run drives a browser to the callback URL without following it.
func (e *env) callbackURL(t *testing.T, b *http.Client) string {
	t.Helper()
	u, err := e.idp.LoginURL(context.Background(), b, e.srv.URL+"/login", staff.Username, staff.Password)
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

func get(t *testing.T, b *http.Client, u string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestHostileCallbacks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, e *env, rec *errResponder) // returns after the hostile request
		ok   int                                           // sign-ins that legitimately succeed first
		want error
	}{
		{name: "wrong state", want: oidc.ErrState, run: func(t *testing.T, e *env, _ *errResponder) {
			b := browser(t)
			u := e.callbackURL(t, b)
			get(t, b, strings.Replace(u, "state=", "state=x", 1))
		}},
		{name: "missing state", want: oidc.ErrState, run: func(t *testing.T, e *env, _ *errResponder) {
			b := browser(t)
			u := e.callbackURL(t, b)
			i := strings.Index(u, "state=")
			get(t, b, u[:i]+"x"+u[i:])
		}},
		{name: "reused state", ok: 1, want: oidc.ErrState, run: func(t *testing.T, e *env, _ *errResponder) {
			b := browser(t)
			u := e.callbackURL(t, b)
			get(t, b, u)
			get(t, b, u)
		}},
		{name: "state from another browser", want: oidc.ErrState, run: func(t *testing.T, e *env, _ *errResponder) {
			u := e.callbackURL(t, browser(t))
			get(t, browser(t), u) // a victim lured to the attacker's callback URL
		}},
		{name: "code replayed under a fresh state", ok: 1, want: oidc.ErrCode, run: func(t *testing.T, e *env, _ *errResponder) {
			b := browser(t)
			first := e.callbackURL(t, b)
			get(t, b, first)
			second := e.callbackURL(t, b)
			code := func(u string) string { _, c, _ := strings.Cut(u, "code="); c, _, _ = strings.Cut(c, "&"); return c }
			get(t, b, strings.Replace(second, code(second), code(first), 1))
		}},
		{name: "provider error", want: oidc.ErrProviderError, run: func(t *testing.T, e *env, _ *errResponder) {
			b := browser(t)
			u := e.callbackURL(t, b)
			get(t, b, u+"&error=access_denied")
		}},
		{name: "iss parameter of another provider (mix-up)", want: oidc.ErrIssuer, run: func(t *testing.T, e *env, _ *errResponder) {
			b := browser(t)
			u := e.callbackURL(t, b)
			get(t, b, u+"&iss="+url.QueryEscape("https://login.microsoftonline.com/evil/v2.0"))
		}},
		{name: "iss parameter given twice", want: oidc.ErrIssuer, run: func(t *testing.T, e *env, _ *errResponder) {
			b := browser(t)
			u := e.callbackURL(t, b)
			get(t, b, u+"&iss="+url.QueryEscape(e.idp.Issuer())+"&iss=x")
		}},
		{name: "iss parameter with a trailing slash", want: oidc.ErrIssuer, run: func(t *testing.T, e *env, _ *errResponder) {
			b := browser(t)
			u := e.callbackURL(t, b)
			get(t, b, u+"&iss="+url.QueryEscape(e.idp.Issuer()+"/"))
		}},
		{name: "iss parameter of ours is accepted", ok: 1, want: nil, run: func(t *testing.T, e *env, _ *errResponder) {
			b := browser(t)
			u := e.callbackURL(t, b)
			get(t, b, u+"&iss="+url.QueryEscape(e.idp.Issuer()))
		}},
		{name: "expired token by the clock", want: oidc.ErrExpired, run: func(t *testing.T, e *env, _ *errResponder) {
			b := browser(t)
			u := e.callbackURL(t, b)
			e.clock.advance(3 * time.Hour)
			get(t, b, u)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &errResponder{}
			e := newEnv(t, envOpts{opts: []oidc.Option{oidc.WithResponder(rec), oidc.WithPendingTTL(24 * time.Hour)}})
			tt.run(t, e, rec)
			got, ok := rec.last()
			if ok != tt.ok || !errors.Is(got, tt.want) {
				t.Fatalf("err = %v (signed in %d), want %v after %d", got, ok, tt.want, tt.ok)
			}
			if tt.ok == 0 {
				e.nothingCreated(t)
			} else if n := e.sessions.count(); n != tt.ok {
				t.Errorf("%d sessions, want %d", n, tt.ok)
			}
		})
	}
}

func TestMaxAge(t *testing.T) {
	t.Parallel()
	rec := &errResponder{}
	e := newEnv(t, envOpts{cfg: func(c *oidc.Config) { c.MaxAge = time.Minute }, opts: []oidc.Option{oidc.WithResponder(rec), oidc.WithPendingTTL(24 * time.Hour)}})
	b := browser(t)
	u := e.callbackURL(t, b)
	e.clock.advance(10 * time.Minute)
	get(t, b, u)
	if got, _ := rec.last(); !errors.Is(got, oidc.ErrAuthTime) {
		t.Fatalf("err = %v, want ErrAuthTime", got)
	}
	e.nothingCreated(t)
}

// TestKeyFlood: tokens naming made-up key ids cost at most one key-set
// fetch per refresh interval, however many arrive.
func TestKeyFlood(t *testing.T) {
	t.Parallel()
	rec := &errResponder{}
	e := newEnv(t, envOpts{opts: []oidc.Option{oidc.WithResponder(rec), oidc.WithKeyRefreshInterval(30 * time.Minute)}})
	n := 0
	e.idp.RewriteIDTokens(func(raw string) string {
		n++
		return oidctest.SignRS256(attacker, fmt.Sprintf("flood-%d", n), oidctest.Claims(raw))
	})
	before := e.idp.KeyFetches()
	const attempts = 30
	for range attempts {
		resp, err := e.idp.Login(context.Background(), browser(t), e.srv.URL+"/login", staff.Username, staff.Password)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, _ := rec.last(); !errors.Is(got, oidc.ErrUnknownKey) {
			t.Fatalf("err = %v, want ErrUnknownKey", got)
		}
	}
	if got := e.idp.KeyFetches() - before; got > 1 {
		t.Errorf("%d unknown-kid tokens caused %d key-set fetches, want at most 1", attempts, got)
	}
	if got := e.rp.KeyFetches(); got > 1 {
		t.Errorf("relying party fetched keys %d times", got)
	}
	// After the interval a genuinely new key can be fetched again.
	e.clock.advance(31 * time.Minute)
	e.idp.RewriteIDTokens(nil)
	resp, err := e.idp.Login(context.Background(), browser(t), e.srv.URL+"/login", staff.Username, staff.Password)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := rec.last(); ok != 1 {
		t.Fatalf("genuine sign-in after the flood failed: %v", rec.err)
	}
}

func TestGroupOverage(t *testing.T) {
	t.Parallel()
	over := staff
	over.Overage = true
	t.Run("unknown groups grant nothing", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{users: []oidctest.User{over}})
		resp, err := e.idp.Login(context.Background(), browser(t), e.srv.URL+"/login?return=/me", over.Username, over.Password)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sign-in status %d", resp.StatusCode)
		}
		if d, _ := e.authz.Check(context.Background(), "user:sam.girard@lakeview.ca", "bylaw.ticket.create", "dept:bylaw"); d.Allowed {
			t.Error("group mapping applied although the groups are unknown")
		}
		if e.events.count("sso.groups.unknown") != 1 {
			t.Error("no sso.groups.unknown event")
		}
	})
	t.Run("resolver lists them", func(t *testing.T) {
		t.Parallel()
		var calls int
		resolve := func(_ context.Context, id sso.Identity, access string) ([]string, error) {
			calls++
			if access == "" || id.Key == "" {
				return nil, sso.ErrGroupsUnknown
			}
			return []string{"g-bylaw"}, nil
		}
		e := newEnv(t, envOpts{users: []oidctest.User{over}, opts: []oidc.Option{oidc.WithGroupResolver(resolve)}})
		resp, err := e.idp.Login(context.Background(), browser(t), e.srv.URL+"/login?return=/me", over.Username, over.Password)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if d, _ := e.authz.Check(context.Background(), "user:sam.girard@lakeview.ca", "bylaw.ticket.create", "dept:bylaw"); !d.Allowed || calls != 1 {
			t.Errorf("resolved groups not applied (calls %d)", calls)
		}
	})
}

func TestSingleFactorSession(t *testing.T) {
	t.Parallel()
	pwd := staff
	pwd.AMR = []string{"pwd"}
	e := newEnv(t, envOpts{users: []oidctest.User{pwd}})
	resp, err := e.idp.Login(context.Background(), browser(t), e.srv.URL+"/login?return=/me", pwd.Username, pwd.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 200)
	n, _ := resp.Body.Read(buf)
	if got := string(buf[:n]); got != "user:sam.girard@lakeview.ca oidc single-factor" {
		t.Errorf("/me = %q: a provider that asserted no MFA must give a single-factor session", got)
	}
}

// TestTenantMustBeIssuers: with a single Entra issuer, a token whose tid
// names another (even allowed) tenant than the issuer's is refused.
func TestTenantMustBeIssuers(t *testing.T) {
	t.Parallel()
	const second = "7c3d9e2f-1111-4222-8333-444455556666"
	for _, tid := range []string{second, "", strings.ToUpper(tenant), tenant + "x"} {
		rec := &errResponder{}
		e := newEnv(t, envOpts{
			cfg:  func(c *oidc.Config) { c.Tenants = []string{tenant, second, "", strings.ToUpper(tenant), tenant + "x"} },
			opts: []oidc.Option{oidc.WithResponder(rec)},
		})
		e.idp.RewriteIDTokens(func(raw string) string {
			return e.idp.Resign(raw, func(c map[string]any) { c["tid"] = tid })
		})
		resp, err := e.idp.Login(context.Background(), browser(t), e.srv.URL+"/login", staff.Username, staff.Password)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, ok := rec.last(); ok != 0 || !errors.Is(got, oidc.ErrTenant) {
			t.Errorf("tid %q: err = %v, want ErrTenant", tid, got)
		}
		e.nothingCreated(t)
	}
}

// TestMultiTenant: a multi-tenant app accepts a configured tenant's token
// only with that tenant's own issuer, and refuses other tenants.
func TestMultiTenant(t *testing.T) {
	t.Parallel()
	const second = "7c3d9e2f-1111-4222-8333-444455556666"
	cases := []struct {
		name string
		tid  string
		iss  func(e *env, tid string) string
		want error
	}{
		// The protocol accepts it; the provisioning rule (JIT for the first
		// tenant only) then refuses to create the user.
		{"allowed tenant, own issuer", second, func(e *env, tid string) string { return e.idp.URL() + "/" + tid + "/v2.0" }, sso.ErrNotAllowed},
		{"allowed tenant, another tenant's issuer", second, func(e *env, _ string) string { return e.idp.Issuer() }, oidc.ErrIssuer},
		{"tenant not allowed", "00000000-0000-0000-0000-00000000dead", func(e *env, tid string) string { return e.idp.URL() + "/" + tid + "/v2.0" }, oidc.ErrTenant},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &errResponder{}
			var e *env
			e = newEnv(t, envOpts{
				cfg: func(c *oidc.Config) {
					c.IssuerTemplate = strings.Replace(c.Issuer, tenant, "{tenantid}", 1)
					c.Tenants = []string{tenant, second}
				},
				opts: []oidc.Option{oidc.WithResponder(rec)},
			})
			e.idp.RewriteIDTokens(func(raw string) string {
				return e.idp.Resign(raw, func(c map[string]any) { c["tid"] = tt.tid; c["iss"] = tt.iss(e, tt.tid) })
			})
			resp, err := e.idp.Login(context.Background(), browser(t), e.srv.URL+"/login", staff.Username, staff.Password)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got, ok := rec.last()
			if ok != 0 || !errors.Is(got, tt.want) {
				t.Fatalf("err = %v, want %v", got, tt.want)
			}
		})
	}
}
