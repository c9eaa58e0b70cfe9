package totp_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/civic-platform/security/session/totp"
)

func Example() {
	cfg := totp.Config{Issuer: "City of Lakeview"}
	e, _ := cfg.Enrol("j.tremblay@lakeview.ca")
	fmt.Println(strings.HasPrefix(e.URI, "otpauth://totp/City%20of%20Lakeview:j.tremblay@lakeview.ca?"), len(e.PNG) > 0)

	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	code, _ := cfg.Code(e.Secret, at)
	// Match returns the code's time step; the caller stores it and accepts
	// a later code only for a greater step.
	step, err := cfg.Match(e.Secret, code, at.Add(20*time.Second)) // next step, within the skew
	fmt.Println(step == cfg.Step(at), err)
	// Output:
	// true true
	// true <nil>
}
