// Command onboarding follows one employee from the HR record to the day
// they leave, on the embedded store, with a real SMTP server running in
// the process:
//
//	go run ./examples/onboarding
//
// HR records a new By-law Officer. Onboarding creates the account, grants
// the by-law officer template at dept:bylaw and sends a French welcome
// message with a one-time activation link, which the SMTP server
// captures. The officer follows the link, chooses a password and signs in
// for the first time; she also makes a personal API key for her scripts.
// HR then moves her to Parks: her roles follow her in one change. Finally
// she is offboarded, and her old session, her API key, the activation
// link and her password are all refused.
package main
