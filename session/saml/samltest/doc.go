// Package samltest runs a real SAML 2.0 identity provider in-process, for
// tests and examples of session/saml: crewjam/saml's samlidp over an
// httptest server on the loopback interface, with users and service
// providers registered through its own administrative API, and helpers
// that drive a browser through the HTTP-Redirect and HTTP-POST bindings.
//
// It is a test double: administrative endpoints are open, and the helpers
// that re-sign XML exist to derive hostile messages from real ones.
package samltest
