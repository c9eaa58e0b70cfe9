package saml

import (
	"errors"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"
)

// signedShape is a response whose one assertion carries a signature
// referencing it; the tests below bend one thing each.
const signedShape = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="r1" InResponseTo="id-1">` +
	`<samlp:Extensions><x:Ext xmlns:x="urn:x" ID="e1"/></samlp:Extensions>` +
	`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a1"><saml:Issuer>i</saml:Issuer>` +
	`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:Reference URI="#a1"><ds:Transforms>` +
	`<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>` +
	`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
	`</ds:Transforms></ds:Reference></ds:SignedInfo></ds:Signature>` +
	`<saml:Subject><saml:NameID>n</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>`

// TestPreflightSignatureShapes: the assertion's signature must reference
// the assertion by its ID, alone, with only the usual transforms, and IDs
// are unique whatever their spelling.
func TestPreflightSignatureShapes(t *testing.T) {
	t.Parallel()
	if _, err := preflight([]byte(signedShape)); err != nil {
		t.Fatalf("genuine shape refused: %v", err)
	}
	tests := []struct {
		name, old, new string
		want           error
	}{
		{"whole-document reference", `URI="#a1"`, `URI=""`, ErrSignature},
		{"reference to another element", `URI="#a1"`, `URI="#e1"`, ErrSignature},
		{"reference to the response", `URI="#a1"`, `URI="#r1"`, ErrSignature},
		{"two references", `</ds:Reference>`, `</ds:Reference><ds:Reference URI="#r1"/>`, ErrSignature},
		{"XPath transform", `xml-exc-c14n#"/>`, `xml-exc-c14n#"/><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"/>`, ErrSignature},
		{"XSLT transform", `xml-exc-c14n#"/>`, `xml-exc-c14n#"/><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>`, ErrSignature},
		{"inclusive c14n with comments", `http://www.w3.org/2001/10/xml-exc-c14n#`, `http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments`, ErrSignature},
		{"two signatures in the assertion", `<saml:Subject>`, `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/><saml:Subject>`, ErrSignature},
		{"assertion ID repeated on the response", `ID="r1"`, `ID="a1"`, ErrMalformed},
		{"assertion ID repeated in Extensions", `ID="e1"`, `ID="a1"`, ErrMalformed},
		{"assertion ID repeated as Id", `ID="e1"`, `Id="a1"`, ErrMalformed},
		{"assertion ID repeated as lower-case id", `ID="e1"`, `id="a1"`, ErrMalformed},
		{"assertion with ID and Id", `ID="a1"`, `ID="a1" Id="a2"`, ErrMalformed},
		{"byte-order mark before the root", `<samlp:Response`, "\ufeff<samlp:Response", ErrMalformed},
		{"text after the root", `</samlp:Response>`, `</samlp:Response>x`, ErrMalformed},
		{"UTF-16 declared", `<samlp:Response`, `<?xml version="1.0" encoding="UTF-16"?><samlp:Response`, ErrMalformed},
		{"UTF-7 declared", `<samlp:Response`, `<?xml version="1.0" encoding="UTF-7"?><samlp:Response`, ErrMalformed},
	}
	for _, tt := range tests {
		doc := strings.Replace(signedShape, tt.old, tt.new, 1)
		if doc == signedShape {
			t.Fatalf("%s: mutation did not apply", tt.name)
		}
		if _, err := preflight([]byte(doc)); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestNameIDMustBeStable: without a key attribute, a transient NameID
// never keys a link, whatever its spelling (white space, case, SAML 1.1).
func TestNameIDMustBeStable(t *testing.T) {
	t.Parallel()
	s := &ServiceProvider{cfg: Config{Provider: "adfs", EmailAttribute: "mail"}}
	assertion := func(format string) *crewjam.Assertion {
		return &crewjam.Assertion{Subject: &crewjam.Subject{NameID: &crewjam.NameID{Format: format, Value: "u-1"}}}
	}
	for _, f := range []string{"", string(crewjam.PersistentNameIDFormat), string(crewjam.UnspecifiedNameIDFormat), string(crewjam.EmailAddressNameIDFormat)} {
		if _, err := s.identity(assertion(f)); err != nil {
			t.Errorf("format %q: %v", f, err)
		}
	}
	for _, f := range []string{
		string(crewjam.TransientNameIDFormat), " " + string(crewjam.TransientNameIDFormat), strings.ToUpper(string(crewjam.TransientNameIDFormat)),
		string(crewjam.TransientNameIDFormat) + " ", "urn:oasis:names:tc:SAML:1.1:nameid-format:transient",
	} {
		if _, err := s.identity(assertion(f)); !errors.Is(err, ErrClaims) {
			t.Errorf("format %q: err = %v, want ErrClaims", f, err)
		}
	}
}

// TestSessionNotOnOrAfterPassed: an assertion whose IdP session has ended
// is refused.
func TestSessionNotOnOrAfterPassed(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := &ServiceProvider{o: options{now: func() time.Time { return now }, skew: time.Minute}}
	ended := now.Add(-10 * time.Minute)
	later := now.Add(time.Hour)
	a := &crewjam.Assertion{IssueInstant: now, AuthnStatements: []crewjam.AuthnStatement{{SessionNotOnOrAfter: &later}}}
	if _, err := s.checkTimes(a); err != nil {
		t.Fatalf("live session refused: %v", err)
	}
	a.AuthnStatements = append(a.AuthnStatements, crewjam.AuthnStatement{SessionNotOnOrAfter: &ended})
	if _, err := s.checkTimes(a); !errors.Is(err, ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
}
