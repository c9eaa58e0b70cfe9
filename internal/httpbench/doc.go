// Package httpbench holds the benchmarks that compare a request through
// iam/iamhttp with a bare handler and with the stack a service would build
// from golang-jwt and Casbin alone. It has no code of its own; it lives in
// internal/ because only internal/ and adapters/ may import Casbin.
package httpbench
