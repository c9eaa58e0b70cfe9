package saml

import (
	"strings"
	"testing"
)

// FuzzPreflight: any document is accepted or refused with one of the
// preflight's errors, never a panic, and an accepted one has exactly one
// signed assertion and stays within the bounds.
func FuzzPreflight(f *testing.F) {
	ok := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" InResponseTo="id-1"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a1"><saml:Issuer>i</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:Reference URI="#a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms></ds:Reference></ds:SignedInfo></ds:Signature></saml:Assertion></samlp:Response>`
	f.Add([]byte(ok))
	f.Add([]byte(strings.Replace(ok, "</samlp:Response>", "<!-- c --></samlp:Response>", 1)))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]>` + ok))
	f.Add([]byte(strings.Replace(ok, "</samlp:Response>", `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/></samlp:Response>`, 1)))
	f.Add([]byte(strings.Repeat("<a>", 100)))
	f.Add([]byte(`<?xml version="1.0"?>` + ok))
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := preflight(doc)
		if err != nil {
			return
		}
		if s.Assertions != 1 || !s.SignedAssert || s.Encrypted != 0 || len(doc) > MaxResponse || len(s.References) != 1 || s.References[0] != "#"+s.AssertionID {
			t.Fatalf("accepted %+v", s)
		}
		if strings.Contains(string(doc), "<!--") || strings.Contains(string(doc), "<!DOCTYPE") {
			t.Fatalf("accepted a comment or DTD: %q", doc)
		}
	})
}
