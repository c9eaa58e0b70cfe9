package saml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Bounds on a response, checked before any other parser sees it.
const (
	// MaxResponse is the largest decoded response accepted.
	MaxResponse = 256 << 10
	// MaxDepth is the deepest element nesting accepted (a genuine
	// response nests about 8 deep).
	MaxDepth = 32
	// MaxTokens is the most XML tokens accepted.
	MaxTokens = 20_000
)

const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
)

// shape is what the preflight learned about a response.
type shape struct {
	InResponseTo string // of the Response root
	AssertionID  string
	Assertions   int // Assertion elements anywhere, any namespace
	Encrypted    int // EncryptedAssertion elements anywhere
	SignedAssert bool
	References   []string // Reference URIs of the assertion's signature
}

// allowedTransforms are the only transforms an assertion's signature may
// apply: enveloped signature and exclusive canonicalisation, what SAML
// IdPs use. Others (XPath, XSLT, inclusive c14n) widen what a signature
// can be made to cover.
var allowedTransforms = []string{
	"http://www.w3.org/2000/09/xmldsig#enveloped-signature",
	"http://www.w3.org/2001/10/xml-exc-c14n#",
}

// preflight streams doc once with bounded depth and token count, refusing
// DTDs, processing instructions and comments, and counts assertions: a
// second assertion anywhere (inside Extensions, inside another assertion,
// in an Advice, under another namespace prefix) is the signature-wrapping
// and CVE-2022-41912 shape and is refused, as is an assertion without its
// own enveloped signature.
func preflight(doc []byte) (shape, error) {
	var s shape
	if len(doc) > MaxResponse {
		return s, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(doc), MaxResponse)
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	depth, tokens := 0, 0
	assertionDepth, sigDepth := -1, -1
	root := true
	ids := map[string]bool{}
	var dup error // a repeated ID or signature, reported after the assertion count
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		if tokens++; tokens > MaxTokens {
			return s, fmt.Errorf("%w: more than %d XML tokens", ErrTooLarge, MaxTokens)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > MaxDepth {
				return s, fmt.Errorf("%w: nested deeper than %d", ErrTooLarge, MaxDepth)
			}
			// Every ID-like attribute (ID, Id, id) is unique in the
			// document and an element has at most one: a signature can
			// then name only one element.
			idAttrs := 0
			for _, a := range t.Attr {
				if a.Name.Space == "" && strings.EqualFold(a.Name.Local, "id") {
					if idAttrs++; idAttrs > 1 {
						return s, fmt.Errorf("%w: an element with several ID attributes", ErrMalformed)
					}
					if ids[a.Value] && dup == nil {
						dup = fmt.Errorf("%w: ID %.64q appears twice", ErrMalformed, a.Value)
					}
					ids[a.Value] = true
				}
			}
			if depth == 1 && !root {
				return s, fmt.Errorf("%w: more than one root element", ErrMalformed)
			}
			if root {
				root = false
				if t.Name.Local != "Response" || t.Name.Space != nsProtocol {
					return s, fmt.Errorf("%w: root is not a Response", ErrMalformed)
				}
				s.InResponseTo = attr(t, "InResponseTo")
			}
			switch t.Name.Local {
			case "Assertion":
				s.Assertions++
				s.AssertionID = attr(t, "ID")
				assertionDepth = depth
			case "EncryptedAssertion":
				s.Encrypted++
			case "Signature":
				if depth == assertionDepth+1 && assertionDepth > 0 && t.Name.Space == nsDSig {
					if s.SignedAssert && dup == nil {
						dup = fmt.Errorf("%w: the assertion has two signatures", ErrSignature)
					}
					s.SignedAssert = true
					sigDepth = depth
				}
			case "Reference":
				// Signature > SignedInfo > Reference
				if sigDepth > 0 && depth == sigDepth+2 && t.Name.Space == nsDSig {
					s.References = append(s.References, attr(t, "URI"))
				}
			case "Transform":
				// Signature > SignedInfo > Reference > Transforms > Transform
				if sigDepth > 0 && depth == sigDepth+4 && t.Name.Space == nsDSig && !slices.Contains(allowedTransforms, attr(t, "Algorithm")) {
					return s, fmt.Errorf("%w: transform %.80q is not accepted", ErrSignature, attr(t, "Algorithm"))
				}
			}
		case xml.EndElement:
			if depth == assertionDepth {
				assertionDepth = -1
			}
			if depth == sigDepth {
				sigDepth = -1
			}
			depth--
		case xml.CharData:
			// Outside the root only white space: no byte-order mark or
			// text a different parser might read differently.
			if depth == 0 && len(bytes.TrimLeft(t, " \t\r\n")) > 0 {
				return s, fmt.Errorf("%w: text outside the root element", ErrMalformed)
			}
		case xml.Comment:
			return s, fmt.Errorf("%w: XML comments are not accepted", ErrMalformed)
		case xml.ProcInst:
			if t.Target != "xml" || tokens != 1 {
				return s, fmt.Errorf("%w: processing instructions are not accepted", ErrMalformed)
			}
		case xml.Directive:
			return s, fmt.Errorf("%w: DTDs and directives are not accepted", ErrMalformed)
		}
	}
	if root || depth != 0 {
		return s, fmt.Errorf("%w: incomplete document", ErrMalformed)
	}
	if s.Encrypted > 0 {
		return s, fmt.Errorf("%w: encrypted assertions are not accepted", ErrAssertionCount)
	}
	if s.Assertions != 1 {
		return s, fmt.Errorf("%w: found %d", ErrAssertionCount, s.Assertions)
	}
	if dup != nil {
		return s, dup
	}
	if !s.SignedAssert {
		return s, ErrUnsigned
	}
	// The signature covers exactly the assertion, named by its ID: not
	// the whole document (URI=""), not another element, not several.
	if len(s.References) != 1 || s.AssertionID == "" || s.References[0] != "#"+s.AssertionID {
		return s, fmt.Errorf("%w: the assertion's signature must reference the assertion's ID and nothing else", ErrSignature)
	}
	return s, nil
}

func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}
