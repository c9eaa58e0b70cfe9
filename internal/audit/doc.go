// Package audit defines the domain event that every part of the module
// emits: the facade re-exports it as iam.Event, and adapters (an outbox
// written in the same transaction as a policy change) use it without
// importing the facade.
package audit
