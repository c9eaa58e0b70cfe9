// Command signin shows local sign-in end to end on the embedded store and
// a memory session store: a staff member signs in with a password, enrols
// TOTP, signs in again with a code, sees the session, a replayed code is
// refused, and after logout the old token is refused.
//
//	go run ./examples/signin
//
// The clock is simulated (it moves 30 seconds between TOTP codes) so that
// the run is the same every time; the codes come from the same secret an
// authenticator app would scan from the QR code.
package main
