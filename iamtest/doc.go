// Package iamtest gives services the fakes we use ourselves, so that their
// tests need no database: an in-memory policy store, a fixed clock and a
// recording audit sink.
package iamtest
