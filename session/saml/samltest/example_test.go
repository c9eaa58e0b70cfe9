package samltest_test

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/civic-platform/security/session/saml/samltest"
)

// Example starts a SAML identity provider on the loopback interface, as a
// test of session/saml does, and reads the metadata a service provider is
// configured with: the IdP's entity id, its single sign-on endpoints and
// its signing certificate.
func Example() {
	idp, err := samltest.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer idp.Close()

	raw, err := idp.Metadata()
	if err != nil {
		fmt.Println(err)
		return
	}
	var md struct {
		EntityID string `xml:"entityID,attr"`
		IDP      struct {
			SSO []struct {
				Binding string `xml:"Binding,attr"`
			} `xml:"SingleSignOnService"`
			Keys []struct {
				Use string `xml:"use,attr"`
			} `xml:"KeyDescriptor"`
		} `xml:"IDPSSODescriptor"`
	}
	if err := xml.Unmarshal(raw, &md); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("entity id on the IdP's server:", strings.HasPrefix(md.EntityID, idp.URL()))
	for _, s := range md.IDP.SSO {
		fmt.Println("binding:", strings.TrimPrefix(s.Binding, "urn:oasis:names:tc:SAML:2.0:bindings:"))
	}
	fmt.Println("signing keys:", len(md.IDP.Keys) > 0)
	// Output:
	// entity id on the IdP's server: true
	// binding: HTTP-Redirect
	// binding: HTTP-POST
	// signing keys: true
}
