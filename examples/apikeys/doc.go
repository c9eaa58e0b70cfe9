// Command apikeys is an IT administrator's quarter with service accounts
// and API keys, on the embedded store with a simulated clock.
//
//	go run ./examples/apikeys [-out DIR]
//
// It creates 12 service accounts, each owned by a person and a
// department with a role granted through the policy, and 34 keys; runs 80
// days of traffic, with last use recorded in memory and written in
// batches; holds the quarterly review, which finds 3 keys approaching the
// 90-day rotation deadline and 2 keys unused for 60 days; rotates the 3
// keys with zero downtime (each client keeps using its old key through
// the 7-day overlap, switches to the new one, and the old key is refused
// after the deadline); and writes the quarterly report as CSV and JSON,
// with zero overdue rotations.
package main
