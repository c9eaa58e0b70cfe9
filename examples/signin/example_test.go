package main

import (
	"context"
	"fmt"
	"os"
)

// Example signs a resident in with a password, enrols TOTP, signs in again
// with both factors, and shows the refusals: a weak password, a wrong one,
// an unknown email, a replayed code and a session used after logout.
func Example() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Println("signin:", err)
	}
	// Output:
	// weak password refused: signin: set password: password: too weak: common or leaked password
	// password sign-in: user:jtremblay methods=password level=single-factor mfa=not-required expires=2026-11-26T21:00:00Z
	// wrong password: signin: invalid email or password
	// unknown email: signin: invalid email or password
	// enrol: otpauth://totp/City%20of%20Lakeview:julie.tremblay@lakeview.ca... QR PNG true
	// enrolled: 10 recovery codes
	// password accepted, second factor required: true
	// password+TOTP sign-in: user:jtremblay methods=password+totp level=multi-factor mfa=done expires=2026-11-26T21:00:30Z
	// replayed code: signin: invalid code (invalid code: true)
	// after logout: refused: session: no such session
}
