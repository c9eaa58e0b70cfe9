// Command emergency walks through break-glass access at an Emergency
// Operations Centre on the embedded SQLite store in a temporary directory:
// the pre-configured Emergency Operations composite (Public Works,
// Utilities, Fire and Transit) is activated for one person for eight hours
// with a reason, every check made under it is audited with its path, the
// access ends by itself with the window, the reaper tidies up, and the
// post-incident review lists every action, exported as CSV and JSON.
//
// The clock is simulated so that the eight hours pass in a moment.
//
//	go run ./examples/emergency
package main
