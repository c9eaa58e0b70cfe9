package apikey

import (
	"context"
	"time"
)

// Store keeps service accounts and keys. Implementations are safe for
// concurrent use; each method is atomic (one transaction). Errors other
// than ErrNotFound and ErrExists mean the store could not answer, and a
// Manager then fails closed.
//
// MemoryStore is for tests and single-process services; adapters/pgstore
// and adapters/sqlitestore provide SQL stores (NewAPIKeyStore) after an
// explicit MigrateAPIKeys.
type Store interface {
	// CreateAccount stores a new account; ErrExists if the id is taken.
	CreateAccount(ctx context.Context, a Account) error
	// SetAccountStatus changes an account's status and Changed time;
	// ErrNotFound if there is no such account.
	SetAccountStatus(ctx context.Context, id string, s AccountStatus, at time.Time) error
	// DeleteAccount removes an account and all its keys; ErrNotFound if
	// there is no such account.
	DeleteAccount(ctx context.Context, id string) error
	// Account returns an account, or ErrNotFound.
	Account(ctx context.Context, id string) (Account, error)
	// Accounts returns every account, sorted by id.
	Accounts(ctx context.Context) ([]Account, error)

	// CreateKey stores a new key; ErrExists if the id is taken, ErrNotFound
	// if its account does not exist.
	CreateKey(ctx context.Context, k Key) error
	// Key returns a key and its account in one read, or ErrNotFound.
	Key(ctx context.Context, id string) (Key, Account, error)
	// Keys returns the keys of an account (every key if account is ""),
	// sorted by account, then creation time, then id.
	Keys(ctx context.Context, account string) ([]Key, error)
	// Rotate stores next and marks the key old.ID as replaced by next.ID
	// and retiring at old.Retires, atomically. It fails with ErrState if
	// old has been revoked or already replaced in the meantime.
	Rotate(ctx context.Context, old, next Key) error
	// RevokeKey sets the key's Revoked time if it is not yet set and
	// returns the key; ErrNotFound if there is no such key.
	RevokeKey(ctx context.Context, id string, at time.Time) (Key, error)
	// TouchKeys raises the stored LastUsed of each key to the given time
	// (never lowers it), in one batch. Unknown ids are ignored.
	TouchKeys(ctx context.Context, used map[string]time.Time) error
}
