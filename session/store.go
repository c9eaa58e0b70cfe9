package session

import (
	"context"
	"time"
)

// Store keeps the server-side session records. The record is the
// authority: a token whose record is gone is refused.
//
// Implementations are safe for concurrent use. Errors other than
// [ErrNotFound] mean the store could not answer; a [Manager] then fails
// closed.
type Store interface {
	// Create stores a new record. An existing ID is an error.
	Create(ctx context.Context, s Session) error
	// Get returns the record with the given ID, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, id string) (Session, error)
	// Touch sets the record's LastSeen to at if the record exists (it
	// never recreates a deleted one); ErrNotFound otherwise. It returns
	// the updated record.
	Touch(ctx context.Context, id string, at time.Time) (Session, error)
	// Delete removes the record and returns it; ErrNotFound if it was not
	// there. A store that replicates waits for its replicas to hold the
	// deletion before returning.
	Delete(ctx context.Context, id string) (Session, error)
	// List returns the subject's records.
	List(ctx context.Context, subject string) ([]Session, error)
	// Watch blocks until ctx is done or the store stops, calling changed
	// for every record that may have changed or gone away, in any process,
	// after this process read it. It calls changed with [Change.All] when
	// it cannot tell what changed (the store was flushed, or a connection
	// to it was re-established and changes may have been missed), with
	// [Change.Alive] at least every interval the Manager asked for while
	// it is connected, so that the Manager knows it is not missing
	// changes, and with [Change.Down] when it cannot reach the store. It
	// does not report All merely because the store is unreachable: the
	// Manager then serves its cache until the staleness bound. changed
	// must be called from one goroutine at a time and return quickly.
	Watch(ctx context.Context, interval time.Duration, changed func(Change)) error
}

// Change tells a [Manager] what to drop from its cache, or how the feed
// stands. Exactly one of its fields is set.
type Change struct {
	// SessionID: this record changed or went away.
	SessionID string
	// All: anything may have changed; drop everything.
	All bool
	// Alive: the feed of changes is connected and nothing was missed up to
	// now.
	Alive bool
	// Down: the store cannot be reached; this is why. Health reports it.
	Down error
}
