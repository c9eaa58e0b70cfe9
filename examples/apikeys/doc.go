// Command apikeys is an IT administrator's quarter with service accounts
// and API keys, on the embedded store with a simulated clock:
//
//   - 12 service accounts, each owned by a person and a department, with
//     roles granted through the policy, and 34 keys;
//
//   - 80 days of traffic; last use is recorded in memory and written in
//     batches;
//
//   - the quarterly review finds 3 keys approaching the 90-day rotation
//     deadline and 2 keys unused for 60 days;
//
//   - the 3 keys are rotated with zero downtime: each client keeps using
//     its old key through the 7-day overlap, switches to the new one, and
//     the old key is refused after the deadline;
//
//   - the quarterly report is written as CSV and JSON with zero overdue
//     rotations.
//
//     go run ./examples/apikeys [-out DIR]
package main
