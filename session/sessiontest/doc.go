// Package sessiontest holds a conformance test for implementations of
// session.EpochStore, run by every store the module ships (and usable by a
// service's own).
package sessiontest
