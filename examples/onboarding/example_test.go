package main

import (
	"context"
	"fmt"
	"os"
)

// Example runs the walkthrough: an HR record makes a joiner, a mover and a
// leaver, and each step changes what the person may do, down to the session
// and the API key that stop working at offboarding.
func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Println("onboarding:", err)
	}
	// Output:
	// HR record E1042: joiner, user e1042, bylaw-officer at dept:bylaw
	// the same record again: unchanged
	// welcome mail to julie.tremblay@lakeview.ca: "Bienvenue à Ville de Lakeview : activez votre compte" with a one-time link
	// activation link used again: refused (true)
	// first sign-in: session for user:e1042
	//   may bylaw.case.read at dept:bylaw: true
	// personal API key: accepted
	// HR record E1042: mover, revoked bylaw-officer at dept:bylaw, assigned bylaw-officer at dept:parks
	//   may bylaw.case.read at dept:bylaw: false
	//   may bylaw.case.read at dept:parks: true
	// offboarded: 1 grants revoked, 1 session ended, 1 personal key revoked, accounts disabled [personal-e1042]
	// old session: refused (true)
	// old API key: refused (true)
	// sign-in: refused (true)
	//   may bylaw.case.read at dept:parks: false
}
