package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// Example signs a bylaw officer in through an in-process OpenID Connect
// provider, provisions and links the account, maps the provider's groups to
// roles, and refuses a guest from another tenant and an unsigned ID token.
// The sign-in time class ("under 2 s"), which a loaded machine can push
// over, is left out.
func Example() {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		fmt.Println("sso:", err)
		return
	}
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		line = strings.Replace(line, ", under 2 s)", ")", 1)
		fmt.Println(strings.Replace(line, ", over 2 s)", ")", 1))
	}
	// Output:
	// bylaw officer signs in through the city's identity provider:
	//   event user.provisioned user:sam.girard@lakeview.ca
	//   event sso.linked user:sam.girard@lakeview.ca
	//   event sso.mapping.applied user:sam.girard@lakeview.ca
	//   event sso.signed_in user:sam.girard@lakeview.ca
	// session: user:sam.girard@lakeview.ca methods=oidc level=multi-factor (status 200)
	// bylaw.ticket.issue at dept:bylaw: true
	// bylaw.ticket.issue at dept:parks: false
	// bylaw.ticket.void at dept:bylaw: false
	// guest from another tenant signs in:
	//   event sso.refused: oidc: tenant not allowed: "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f"
	// status 401
	// an ID token forged with alg none:
	//   event sso.refused: oidc: bad ID token signature: unexpected signature algorithm "none"; expected ["RS256"]
	// status 401
}
