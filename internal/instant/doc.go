// Package instant converts between time.Time and the Unix-nanosecond
// instants that compiled policies, freshness bounds and the Casbin bridge
// compare. It is shared by rbac, iam and the adapters so that every one of
// them clamps and bounds instants the same way; no exported API of the
// module takes or returns these integers.
package instant
