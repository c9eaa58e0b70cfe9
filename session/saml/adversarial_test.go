package saml_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/civic-platform/security/session/saml"
	"github.com/civic-platform/security/session/saml/samltest"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
)

var attackerKey, attackerCert = func() (*rsa.PrivateKey, *x509.Certificate) {
	k, c, err := samltest.KeyPair("attacker")
	if err != nil {
		panic(err)
	}
	return k, c
}()

// message is a real response the IdP sent to a browser, parsed for
// mutation.
type message struct {
	e      *env
	doc    *etree.Document
	acs    string
	fields url.Values
	b      *http.Client
}

func (e *env) message(t *testing.T) *message { return e.messageAs(t, officer) }

func (e *env) messageAs(t *testing.T, u samltest.User) *message {
	t.Helper()
	b := browser(t)
	acs, fields, err := e.idp.Response(context.Background(), b, e.srv.URL+"/saml/login", u.Name, u.Password)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(fields.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return &message{e: e, doc: doc, acs: acs, fields: fields, b: b}
}

func (m *message) root() *etree.Element      { return m.doc.Root() }
func (m *message) assertion() *etree.Element { return m.root().FindElement("./Assertion") }

// resign signs the assertion, then the response, again with key and cert
// (the IdP's own for "the IdP issued this", another for forgeries).
func (m *message) resign(t *testing.T, key *rsa.PrivateKey, cert *x509.Certificate) {
	t.Helper()
	a := m.assertion()
	signed, err := samltest.Sign(a, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	m.replace(a, signed)
	signedRoot, err := samltest.Sign(m.root(), key, cert)
	if err != nil {
		t.Fatal(err)
	}
	m.doc.SetRoot(signedRoot)
}

func (m *message) replace(old, el *etree.Element) {
	p := old.Parent()
	i := old.Index()
	p.RemoveChildAt(i)
	p.InsertChildAt(i, el)
}

func dropSignature(el *etree.Element) {
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" {
			el.RemoveChild(c)
		}
	}
}

func (m *message) bytes(t *testing.T) []byte {
	t.Helper()
	b, err := m.doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends the (mutated) response as the browser would.
func (m *message) post(t *testing.T, raw []byte) {
	t.Helper()
	f := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(raw)}, "RelayState": {m.fields.Get("RelayState")}}
	resp, err := samltest.Post(context.Background(), m.b, m.acs, f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestHostileResponses(t *testing.T) {
	t.Parallel()
	lookalike := samltest.User{Name: "sgirard2", Password: officer.Password, Email: "sаm.girard@lakeview.ca", Groups: []string{"bylaw"}}
	tests := []struct {
		name   string
		as     *samltest.User
		mutate func(t *testing.T, m *message) []byte
		want   error
	}{
		{name: "unsigned response and assertion", want: saml.ErrUnsigned, mutate: func(t *testing.T, m *message) []byte {
			dropSignature(m.root())
			dropSignature(m.assertion())
			return m.bytes(t)
		}},
		{name: "signed response around an unsigned assertion", want: saml.ErrUnsigned, mutate: func(t *testing.T, m *message) []byte {
			dropSignature(m.assertion())
			signed, err := samltest.Sign(m.root(), m.e.idp.Key, m.e.idp.Cert)
			if err != nil {
				t.Fatal(err)
			}
			m.doc.SetRoot(signed)
			return m.bytes(t)
		}},
		{name: "wrapping: signed assertion in Extensions, forged one outside", want: saml.ErrAssertionCount, mutate: func(t *testing.T, m *message) []byte {
			a := m.assertion()
			ext := m.root().CreateElement("samlp:Extensions")
			ext.AddChild(a.Copy())
			forged := a
			dropSignature(forged)
			forged.FindElement(".//NameID").SetText("admin@lakeview.ca")
			forged.CreateAttr("ID", "id-forged")
			return m.bytes(t)
		}},
		{name: "wrapping: signed assertion inside the forged assertion's Advice", want: saml.ErrAssertionCount, mutate: func(t *testing.T, m *message) []byte {
			a := m.assertion()
			forged := a.Copy()
			dropSignature(forged)
			forged.CreateAttr("ID", "id-forged")
			forged.FindElement(".//NameID").SetText("admin@lakeview.ca")
			advice := forged.CreateElement("saml:Advice")
			advice.AddChild(a.Copy())
			m.replace(a, forged)
			return m.bytes(t)
		}},
		{name: "wrapping: signed assertion inside the Signature's Object", want: saml.ErrAssertionCount, mutate: func(t *testing.T, m *message) []byte {
			a := m.assertion()
			sig := m.root().FindElement("./Signature")
			obj := sig.CreateElement("ds:Object")
			obj.AddChild(a.Copy())
			a.FindElement(".//NameID").SetText("admin@lakeview.ca")
			return m.bytes(t)
		}},
		{name: "two assertions", want: saml.ErrAssertionCount, mutate: func(t *testing.T, m *message) []byte {
			m.root().AddChild(m.assertion().Copy())
			return m.bytes(t)
		}},
		{name: "no assertion", want: saml.ErrAssertionCount, mutate: func(t *testing.T, m *message) []byte {
			m.root().RemoveChild(m.assertion())
			return m.bytes(t)
		}},
		{name: "encrypted assertion", want: saml.ErrAssertionCount, mutate: func(t *testing.T, m *message) []byte {
			m.root().CreateElement("saml:EncryptedAssertion")
			return m.bytes(t)
		}},
		{name: "another audience, signed by the IdP", want: saml.ErrAudience, mutate: func(t *testing.T, m *message) []byte {
			m.assertion().FindElement(".//Audience").SetText("https://other-app.example/saml")
			m.resign(t, m.e.idp.Key, m.e.idp.Cert)
			return m.bytes(t)
		}},
		{name: "another recipient, signed by the IdP", want: saml.ErrDestination, mutate: func(t *testing.T, m *message) []byte {
			m.assertion().FindElement(".//SubjectConfirmationData").CreateAttr("Recipient", "https://other-app.example/acs")
			m.resign(t, m.e.idp.Key, m.e.idp.Cert)
			return m.bytes(t)
		}},
		{name: "another destination", want: saml.ErrDestination, mutate: func(t *testing.T, m *message) []byte {
			m.root().CreateAttr("Destination", "https://other-app.example/acs")
			dropSignature(m.root())
			return m.bytes(t)
		}},
		{name: "another issuer, signed by the IdP", want: saml.ErrIssuer, mutate: func(t *testing.T, m *message) []byte {
			m.assertion().FindElement("./Issuer").SetText("https://evil.example/idp")
			m.resign(t, m.e.idp.Key, m.e.idp.Cert)
			return m.bytes(t)
		}},
		{name: "certificate in the message differs from metadata", want: saml.ErrSignature, mutate: func(t *testing.T, m *message) []byte {
			m.assertion().FindElement(".//NameID").SetText("admin@lakeview.ca")
			m.resign(t, attackerKey, attackerCert)
			return m.bytes(t)
		}},
		{name: "assertion tampered after signing", want: saml.ErrSignature, mutate: func(t *testing.T, m *message) []byte {
			dropSignature(m.root())
			m.assertion().FindElement(".//NameID").SetText("admin@lakeview.ca")
			return m.bytes(t)
		}},
		{name: "unsolicited while IdP-initiated is off", want: saml.ErrUnsolicited, mutate: func(t *testing.T, m *message) []byte {
			m.root().RemoveAttr("InResponseTo")
			dropSignature(m.root())
			return m.bytes(t)
		}},
		{name: "InResponseTo of a request never issued", want: saml.ErrRequest, mutate: func(t *testing.T, m *message) []byte {
			m.root().CreateAttr("InResponseTo", "id-never-issued")
			dropSignature(m.root())
			return m.bytes(t)
		}},
		{name: "comment inside NameID", want: saml.ErrMalformed, mutate: func(t *testing.T, m *message) []byte {
			// Canonicalisation drops comments, so the signature still
			// verifies; the text nodes around the comment must never be
			// read as another account's name.
			b := string(m.bytes(t))
			return []byte(strings.Replace(b, "sam.girard@lakeview.ca</saml:NameID>", "sam.girard@lakeview.ca<!---->.evil.example</saml:NameID>", 1))
		}},
		{name: "comment inside the email attribute", want: saml.ErrMalformed, mutate: func(t *testing.T, m *message) []byte {
			b := string(m.bytes(t))
			i := strings.LastIndex(b, "sam.girard@lakeview.ca</saml:AttributeValue>")
			if i < 0 {
				t.Fatal("no email attribute")
			}
			return []byte(b[:i] + "sam.girard<!-- -->@lakeview.ca</saml:AttributeValue>" + b[i+len("sam.girard@lakeview.ca</saml:AttributeValue>"):])
		}},
		{name: "DOCTYPE with entities", want: saml.ErrMalformed, mutate: func(t *testing.T, m *message) []byte {
			return append([]byte(`<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>`), m.bytes(t)...)
		}},
		{name: "huge document", want: saml.ErrTooLarge, mutate: func(t *testing.T, m *message) []byte {
			m.root().CreateElement("samlp:Extensions").SetText(strings.Repeat("A", saml.MaxResponse))
			return m.bytes(t)
		}},
		{name: "deeply nested document", want: saml.ErrTooLarge, mutate: func(t *testing.T, m *message) []byte {
			el := m.root().CreateElement("samlp:Extensions")
			for range 200 {
				el = el.CreateElement("x")
			}
			return m.bytes(t)
		}},
		{name: "too many tokens", want: saml.ErrTooLarge, mutate: func(t *testing.T, m *message) []byte {
			el := m.root().CreateElement("samlp:Extensions")
			for range saml.MaxTokens {
				el.CreateElement("x")
			}
			return m.bytes(t)
		}},
		{name: "not XML", want: saml.ErrMalformed, mutate: func(t *testing.T, m *message) []byte { return []byte("<samlp:Response") }},
		{name: "look-alike email from the IdP", want: sso.ErrInvalidClaim, as: &lookalike,
			mutate: func(t *testing.T, m *message) []byte { return m.bytes(t) }},
	}
	// One IdP and service provider for every case (each case is its own
	// browser and response), so the cases run in a few seconds.
	e := newEnv(t, envOpts{recorder: true, users: []samltest.User{officer, lookalike},
		existing: []signin.User{{ID: "admin", Email: "admin@lakeview.ca"}}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := officer
			if tt.as != nil {
				u = *tt.as
			}
			m := e.messageAs(t, u)
			refused := e.events.count("sso.refused")
			m.post(t, tt.mutate(t, m))
			got, ok := e.rec.last()
			if ok != 0 || !errors.Is(got, tt.want) {
				t.Fatalf("err = %v (signed in %d), want %v", got, ok, tt.want)
			}
			if e.events.count("sso.refused") != refused+1 {
				t.Error("no sso.refused event")
			}
			e.nothingCreated(t)
		})
	}
}

func TestRequestBinding(t *testing.T) {
	t.Parallel()
	t.Run("response posted by another browser", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{recorder: true})
		m := e.message(t)
		m.b = browser(t) // the victim's browser, lured to post the attacker's response
		m.post(t, m.bytes(t))
		if got, _ := e.rec.last(); !errors.Is(got, saml.ErrRequest) {
			t.Fatalf("err = %v, want ErrRequest", got)
		}
		e.nothingCreated(t)
	})
	t.Run("response posted twice", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{recorder: true})
		m := e.message(t)
		m.post(t, m.bytes(t))
		m.post(t, m.bytes(t))
		if got, ok := e.rec.last(); ok != 1 || !errors.Is(got, saml.ErrRequest) {
			t.Fatalf("err = %v (signed in %d), want one sign-in then ErrRequest", got, ok)
		}
	})
	t.Run("expired NotOnOrAfter", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{recorder: true, opts: []saml.Option{saml.WithRequestTTL(time.Hour)}})
		m := e.message(t)
		e.clock.advance(10 * time.Minute)
		m.post(t, m.bytes(t))
		if got, _ := e.rec.last(); !errors.Is(got, saml.ErrExpired) {
			t.Fatalf("err = %v, want ErrExpired", got)
		}
		e.nothingCreated(t)
	})
}

// leakyOnce is a request store that forgets to delete: as if two
// processes each had their own store. The shared replay cache must still
// refuse the second use of an assertion.
type leakyOnce struct{ *sso.MemOnce }

func (l leakyOnce) Take(ctx context.Context, key string) ([]byte, error) {
	v, err := l.MemOnce.Take(ctx, key)
	if err == nil {
		_ = l.MemOnce.Put(ctx, key, v, time.Hour)
	}
	return v, err
}

func TestReplayedAssertion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{recorder: true, opts: []saml.Option{saml.WithOnceStore(leakyOnce{sso.NewMemOnce(0, nil)})}})
	m := e.message(t)
	m.post(t, m.bytes(t))
	m.post(t, m.bytes(t))
	if got, ok := e.rec.last(); ok != 1 || !errors.Is(got, saml.ErrReplay) {
		t.Fatalf("err = %v (signed in %d), want one sign-in then ErrReplay", got, ok)
	}
	if e.sessions.count() != 1 {
		t.Errorf("%d sessions", e.sessions.count())
	}
}

// TestLookalikeNeverReachesExistingAccount: the IdP asserts a NameID and
// email that look like an existing user's; no link to that user is made.
func TestLookalikeNeverReachesExistingAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{recorder: true,
		users:    []samltest.User{{Name: "mallory", Password: "pw-mallory", Email: "sam.girard@lakeview.ca\u200b"}},
		existing: []signin.User{{ID: "sgirard", Email: "sam.girard@lakeview.ca"}}})
	resp, err := e.idp.Login(context.Background(), browser(t), e.srv.URL+"/saml/login", "mallory", "pw-mallory")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, ok := e.rec.last(); ok != 0 || !errors.Is(got, sso.ErrInvalidClaim) {
		t.Fatalf("err = %v (signed in %d), want ErrInvalidClaim", got, ok)
	}
	if e.links.Count() != 0 || e.sessions.count() != 0 {
		t.Error("a look-alike identity was linked or signed in")
	}
}
