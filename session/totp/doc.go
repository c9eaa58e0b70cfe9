// Package totp provides time-based one-time passwords (RFC 6238) for
// multi-factor sign-in, on top of github.com/pquerna/otp, and single-use
// recovery codes.
//
// [Config.Enrol] makes a fresh 160-bit secret with its otpauth:// URI and
// a QR code as PNG. [Config.Match] checks a code against every time step
// in the skew window (one step either side by default) in constant time
// and returns the step it matched. It keeps no state: a code is single-use
// only because the caller stores the last accepted step and advances it by
// compare-and-set to the matched step, refusing the code when the stored
// step is already at or past it. That one rule refuses the same code
// twice, an older code from the skew window after a newer one was used,
// and the second of two parallel requests with one code. The sign-in
// service (package session/signin) does this against its store.
//
// [NewRecoveryCodes] makes ten codes of 50 random bits each; only
// [HashRecoveryCode] of each is stored, and a store marks a code used by
// compare-and-set so that it works once.
package totp
