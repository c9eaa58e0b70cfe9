// Command sso shows the onboarding scenario's first sign-in: a bylaw
// officer signs in through the city's identity provider (Azure AD / Entra
// ID; here a real OpenID Connect provider, zitadel/oidc's, running
// in-process on the loopback interface), gets a multi-factor session, and
// the group claim the provider asserts maps to the Bylaw Officer role
// template at the officer's department. Someone from another tenant is
// refused, and a hostile ID token is refused without creating anything.
//
//	go run ./examples/sso
//
// Policy and users live in the embedded store (SQLite) in a temporary
// directory; sessions in memory. Nothing leaves the machine.
package main
