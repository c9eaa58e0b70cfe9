// Package iamtest gives services the fakes we use ourselves, so that their
// tests need no database: an in-memory policy store ([NewStore]), a clock
// the test moves ([NewClock]) or pins ([Clock]), and an [iam.AuditSink]
// that records events and finds them by type and subject ([Recorder]).
//
// Every value in the package is safe for concurrent use.
package iamtest
