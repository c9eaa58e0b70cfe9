package samltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/samlidp"
	dsig "github.com/russellhaering/goxmldsig"
)

// User is a person who can sign in at the IdP.
type User struct {
	Name, Password string
	Email          string
	Groups         []string
	CommonName     string
}

// IdP is a running SAML identity provider.
type IdP struct {
	srv    *httptest.Server
	server *samlidp.Server
	Key    *rsa.PrivateKey
	Cert   *x509.Certificate
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}
func (quiet) Print(...any)          {}
func (quiet) Println(...any)        {}
func (quiet) Fatal(...any)          {}
func (quiet) Fatalf(string, ...any) {}
func (quiet) Fatalln(...any)        {}
func (quiet) Panic(...any)          {}
func (quiet) Panicf(string, ...any) {}
func (quiet) Panicln(...any)        {}

// New starts an IdP with users. Close it when done.
func New(users ...User) (*IdP, error) {
	key, cert, err := KeyPair("test idp")
	if err != nil {
		return nil, err
	}
	i := &IdP{Key: key, Cert: cert}
	var h http.Handler
	i.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	base, _ := url.Parse(i.srv.URL)
	i.server, err = samlidp.New(samlidp.Options{URL: *base, Key: key, Certificate: cert, Store: &samlidp.MemoryStore{}, Logger: quiet{}})
	if err != nil {
		i.srv.Close()
		return nil, err
	}
	h = i.server
	for _, u := range users {
		if err := i.AddUser(u); err != nil {
			i.srv.Close()
			return nil, err
		}
	}
	return i, nil
}

// KeyPair makes an RSA key and a self-signed certificate for it.
func KeyPair(cn string) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

// URL returns the IdP's base URL.
func (i *IdP) URL() string { return i.srv.URL }

// Close stops the server.
func (i *IdP) Close() { i.srv.Close() }

func (i *IdP) put(path string, body []byte) error {
	req, err := http.NewRequest(http.MethodPut, i.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("samltest: PUT %s: %d %s", path, resp.StatusCode, b)
	}
	return nil
}

// AddUser registers u.
func (i *IdP) AddUser(u User) error {
	body, _ := json.Marshal(map[string]any{"name": u.Name, "password": u.Password, "email": u.Email, "groups": u.Groups, "common_name": u.CommonName})
	return i.put("/users/"+url.PathEscape(u.Name), body)
}

// AddServiceProvider registers a service provider by its metadata XML.
func (i *IdP) AddServiceProvider(id string, metadata []byte) error {
	return i.put("/services/"+url.PathEscape(id), metadata)
}

// Metadata returns the IdP's metadata XML.
func (i *IdP) Metadata() ([]byte, error) {
	resp, err := http.Get(i.srv.URL + "/metadata")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

var (
	actionRE = regexp.MustCompile(`<form[^>]*action="([^"]*)"`)
	inputRE  = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// form reads an HTML form's action and hidden inputs.
func form(body []byte) (string, url.Values, error) {
	m := actionRE.FindSubmatch(body)
	if m == nil {
		return "", nil, errors.New("samltest: no form in the page")
	}
	v := url.Values{}
	for _, in := range inputRE.FindAllSubmatch(body, -1) {
		v.Set(html.UnescapeString(string(in[1])), html.UnescapeString(string(in[2])))
	}
	return html.UnescapeString(string(m[1])), v, nil
}

// Response drives a browser (client, with a cookie jar) from start (the
// service provider's begin URL) through the IdP's login form, and returns
// the assertion consumer URL and form (SAMLResponse, RelayState) the IdP
// told the browser to post, without posting it.
func (i *IdP) Response(ctx context.Context, client *http.Client, start, user, password string) (string, url.Values, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, start, nil)
	if err != nil {
		return "", nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action, fields, err := form(body)
	if err != nil {
		return "", nil, fmt.Errorf("login page (%s %d): %w", resp.Request.URL, resp.StatusCode, err)
	}
	fields.Set("user", user)
	fields.Set("password", password)
	target, err := resp.Request.URL.Parse(action)
	if err != nil {
		return "", nil, err
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(fields.Encode()))
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return "", nil, err
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	acs, post, err := form(body)
	if err != nil || post.Get("SAMLResponse") == "" {
		return "", nil, fmt.Errorf("samltest: no SAMLResponse after login (status %d): %s", resp.StatusCode, truncate(body))
	}
	return acs, post, nil
}

// Post posts a SAML response form to acs, as the browser's auto-submitting
// form does.
func Post(ctx context.Context, client *http.Client, acs string, fields url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, acs, strings.NewReader(fields.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return client.Do(req)
}

// Login is Response followed by Post.
func (i *IdP) Login(ctx context.Context, client *http.Client, start, user, password string) (*http.Response, error) {
	acs, fields, err := i.Response(ctx, client, start, user, password)
	if err != nil {
		return nil, err
	}
	return Post(ctx, client, acs, fields)
}

func truncate(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}

// Sign replaces el's enveloped signature with one made by key, with cert
// in its KeyInfo.
func Sign(el *etree.Element, key *rsa.PrivateKey, cert *x509.Certificate) (*etree.Element, error) {
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" {
			el.RemoveChild(c)
		}
	}
	ks := dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key})
	sc := dsig.NewDefaultSigningContext(ks)
	sc.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := sc.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, err
	}
	signed, err := sc.SignEnveloped(el)
	if err != nil {
		return nil, err
	}
	// Put the signature after the Issuer, where the schema wants it.
	// SignEnveloped appends the signature to the copy's token list
	// without making the copy its parent; take it off the list directly.
	sig, ok := signed.Child[len(signed.Child)-1].(*etree.Element)
	if !ok {
		return nil, errors.New("samltest: no signature appended")
	}
	signed.Child = signed.Child[:len(signed.Child)-1]
	at := 0
	for i, c := range signed.ChildElements() {
		if c.Tag == "Issuer" {
			at = i + 1
		}
	}
	signed.InsertChildAt(indexOfChild(signed, at), sig)
	return signed, nil
}

// indexOfChild converts an element index to a token index.
func indexOfChild(el *etree.Element, n int) int {
	seen := 0
	for i, t := range el.Child {
		if _, ok := t.(*etree.Element); ok {
			if seen == n {
				return i
			}
			seen++
		}
	}
	return len(el.Child)
}

// AddShortcut registers an IdP-initiated sign-in: a browser that visits
// /login/<name> is signed in to the service provider with entityID
// without that service provider having asked.
func (i *IdP) AddShortcut(name, entityID string) error {
	body, _ := json.Marshal(map[string]any{"name": name, "service_provider": entityID})
	return i.put("/shortcuts/"+url.PathEscape(name), body)
}

// Initiate signs the browser in at the IdP and follows the shortcut
// (IdP-initiated sign-in), returning the unsolicited response form the
// IdP told the browser to post, without posting it.
func (i *IdP) Initiate(ctx context.Context, client *http.Client, shortcut, user, password string) (string, url.Values, error) {
	if _, _, err := i.Response(ctx, client, i.srv.URL+"/login/"+url.PathEscape(shortcut), user, password); err == nil {
		return "", nil, errors.New("samltest: the IdP answered before the session existed")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, i.srv.URL+"/login/"+url.PathEscape(shortcut), nil)
	if err != nil {
		return "", nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	acs, post, err := form(body)
	if err != nil || post.Get("SAMLResponse") == "" {
		return "", nil, fmt.Errorf("samltest: no SAMLResponse from the shortcut (status %d): %s", resp.StatusCode, truncate(body))
	}
	return acs, post, nil
}
