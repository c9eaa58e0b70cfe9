package apikey

import (
	"context"
	"errors"
	"fmt"
	"github.com/civic-platform/security/iam/reports"
	"slices"
	"strings"
	"time"

	"github.com/civic-platform/security/rbac"
)

// CreateAccount creates an active service account and emits
// service_account.created. Grant it roles through the policy
// (iam.Admin.Assign with Subject a.Subject()), so that WhoCan,
// segregation-of-duties checks and reports include it. Status and Created
// are set by the Manager.
func (m *Manager) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if m.closed.Load() {
		return Account{}, ErrClosed
	}
	if err := a.validate(); err != nil {
		return Account{}, err
	}
	now := m.o.now()
	a.Status, a.Created, a.Changed = AccountActive, now, now
	if err := m.store.CreateAccount(ctx, a); err != nil {
		return Account{}, err
	}
	m.emit(ctx, EventAccountCreated, a.Subject(), map[string]string{
		"account": a.ID, "owner": string(a.Owner), "department": a.Department})
	return a, nil
}

// DisableAccount disables a service account: its keys are refused at once
// in this process and, through the feed, in every other. It emits
// service_account.disabled.
func (m *Manager) DisableAccount(ctx context.Context, id, reason string) error {
	return m.setStatus(ctx, id, AccountDisabled, EventAccountDisabled, reason)
}

// EnableAccount makes a disabled service account active again and emits
// service_account.enabled. Its keys that are still valid work again.
func (m *Manager) EnableAccount(ctx context.Context, id, reason string) error {
	return m.setStatus(ctx, id, AccountActive, EventAccountEnabled, reason)
}

func (m *Manager) setStatus(ctx context.Context, id string, s AccountStatus, typ, reason string) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if !validAccountID(id) || !validText(reason) {
		return fmt.Errorf("%w: account id or reason", ErrInvalidInput)
	}
	if err := m.store.SetAccountStatus(ctx, id, s, m.o.now()); err != nil {
		return err
	}
	perr := m.publish(ctx, "svc:"+id)
	m.emit(ctx, typ, rbac.Subject("svc:"+id), map[string]string{"account": id, "reason": reason})
	return perr
}

// DeleteAccount disables the account (its keys stop at once), revokes its
// own grants through the GrantRevoker given with [WithGrantRevoker], then
// deletes it with its keys, and emits service_account.deleted. If a step
// fails, the account stays disabled and the call can be repeated.
func (m *Manager) DeleteAccount(ctx context.Context, id, reason string) error {
	if err := m.DisableAccount(ctx, id, reason); err != nil {
		return err
	}
	sub := rbac.Subject("svc:" + id)
	if rv := m.o.revoker; rv != nil {
		as, err := reports.Assignments(m.policy.View(), sub)
		if err != nil {
			return fmt.Errorf("apikey: delete %s: read grants: %w", id, err)
		}
		for _, g := range as.Grants {
			if g.Via != "" || g.Grant.Subject != sub {
				continue
			}
			if _, err := rv.Revoke(ctx, g.Grant.Key(), "service account deleted: "+reason); err != nil {
				return fmt.Errorf("apikey: delete %s: revoke grant: %w", id, err)
			}
		}
	}
	if err := m.store.DeleteAccount(ctx, id); err != nil {
		return err
	}
	perr := m.publish(ctx, "svc:"+id)
	m.emit(ctx, EventAccountDeleted, sub, map[string]string{"account": id, "reason": reason})
	return perr
}

// Account returns a service account.
func (m *Manager) Account(ctx context.Context, id string) (Account, error) {
	if !validAccountID(id) {
		return Account{}, fmt.Errorf("%w: account id", ErrInvalidInput)
	}
	return m.store.Account(ctx, id)
}

// Accounts lists the service accounts.
func (m *Manager) Accounts(ctx context.Context) ([]Account, error) { return m.store.Accounts(ctx) }

// Keys lists an account's keys (every key for ""), without secrets.
func (m *Manager) Keys(ctx context.Context, account string) ([]Key, error) {
	return m.store.Keys(ctx, account)
}

// KeySpec describes a key to create.
type KeySpec struct {
	// Name says what the key is for ("nightly export"); required.
	Name string
	// Expires, when set, is when the key stops working.
	Expires time.Time
	// Narrowing, when set, limits the key to part of what the account may
	// do; it must not exceed it.
	Narrowing Narrowing
}

// CreateKey creates a key for an active account and returns it; the
// secret is in the result only, never stored or shown again. A narrowing
// that asks for a permission or scope the account does not hold now is
// refused with ErrNarrowingExceeds and nothing is written. It emits
// apikey.created.
func (m *Manager) CreateKey(ctx context.Context, account string, spec KeySpec) (Created, error) {
	if m.closed.Load() {
		return Created{}, ErrClosed
	}
	if !validAccountID(account) {
		return Created{}, fmt.Errorf("%w: account id", ErrInvalidInput)
	}
	if spec.Name == "" || !validText(spec.Name) {
		return Created{}, fmt.Errorf("%w: a key needs a name of at most %d printable bytes", ErrInvalidInput, MaxText)
	}
	now := m.o.now()
	if !spec.Expires.IsZero() && !spec.Expires.After(now) {
		return Created{}, fmt.Errorf("%w: expiry is not in the future", ErrInvalidInput)
	}
	n, err := spec.Narrowing.normalize()
	if err != nil {
		return Created{}, err
	}
	a, err := m.store.Account(ctx, account)
	if err != nil {
		return Created{}, err
	}
	if a.Status != AccountActive {
		return Created{}, fmt.Errorf("%w: service account %s is %s", ErrState, a.ID, a.Status)
	}
	if err := m.checkNarrowing(ctx, a.Subject(), n); err != nil {
		return Created{}, err
	}
	c, err := m.newKey(a.ID, spec.Name, spec.Expires, n, now)
	if err != nil {
		return Created{}, err
	}
	if err := m.store.CreateKey(ctx, c.Key); err != nil {
		return Created{}, err
	}
	perr := m.publish(ctx, c.Key.ID)
	m.emit(ctx, EventKeyCreated, a.Subject(), keyDetail(c.Key))
	return c, perr
}

func keyDetail(k Key) map[string]string {
	d := map[string]string{"key": k.ID, "account": k.Account, "name": k.Name}
	if !k.Expires.IsZero() {
		d["expires"] = k.Expires.UTC().Format(time.RFC3339)
	}
	if len(k.Narrowing.Permissions) > 0 {
		d["permissions"] = joinPerms(k.Narrowing.Permissions)
	}
	if len(k.Narrowing.Scopes) > 0 {
		d["scopes"] = joinScopes(k.Narrowing.Scopes)
	}
	return d
}

func joinPerms(ps []rbac.Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, " ")
}

func joinScopes(ps []rbac.Scope) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, " ")
}

func (m *Manager) newKey(account, name string, expires time.Time, n Narrowing, now time.Time) (Created, error) {
	secret, parts, err := generate()
	if err != nil {
		return Created{}, fmt.Errorf("apikey: random: %w", err)
	}
	return Created{Secret: secret, Key: Key{ID: parts.ID, Account: account, Name: name,
		Hash: m.h.sum(parts.Secret), Created: now, Expires: expires, Narrowing: n}}, nil
}

// accountScopes returns the scopes at which the subject holds grants in
// force now (directly or through groups), sorted.
func (m *Manager) accountScopes(ctx context.Context, sub rbac.Subject) ([]rbac.Scope, error) {
	as, err := reports.Assignments(m.policy.View(), sub)
	if err != nil {
		return nil, err
	}
	var out []rbac.Scope
	for _, g := range as.Grants {
		if g.Active {
			out = append(out, g.Grant.Scope)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// checkNarrowing refuses a narrowing that exceeds what sub holds now.
func (m *Manager) checkNarrowing(ctx context.Context, sub rbac.Subject, n Narrowing) error {
	if n.IsZero() {
		return nil
	}
	scopes := n.Scopes
	if len(scopes) == 0 {
		s, err := m.accountScopes(ctx, sub)
		if err != nil {
			return fmt.Errorf("apikey: read the account's grants: %w", err)
		}
		scopes = s
	}
	if len(n.Permissions) == 0 {
		// Scopes only: the account must hold something at each.
		for _, s := range scopes {
			ps, err := m.policy.Permissions(ctx, sub, s)
			if err != nil {
				return fmt.Errorf("apikey: read the account's permissions: %w", err)
			}
			if len(ps) == 0 {
				return fmt.Errorf("%w: %s holds nothing at %s", ErrNarrowingExceeds, sub, s)
			}
		}
		return nil
	}
	for _, p := range n.Permissions {
		held := false
		for _, s := range scopes {
			d, err := m.policy.Check(ctx, sub, p, s)
			if err != nil {
				// The policy could not decide (stale, closed, malformed):
				// refuse, with the policy's own error.
				return fmt.Errorf("apikey: check narrowing %s at %s: %w", p, s, err)
			}
			if d.Allowed {
				held = true
			} else if len(n.Scopes) > 0 {
				return fmt.Errorf("%w: %s does not hold %s at %s", ErrNarrowingExceeds, sub, p, s)
			}
		}
		if !held {
			return fmt.Errorf("%w: %s does not hold %s", ErrNarrowingExceeds, sub, p)
		}
	}
	return nil
}

// Rotate issues a new key for the same account, name, expiry and
// narrowing, and keeps the old key working until now+overlap (overlap 0
// means the Manager's, WithOverlap, default 7 days); from then on the old
// key is refused by time alone. Only an active key can be rotated
// (ErrState otherwise). It emits apikey.rotated.
func (m *Manager) Rotate(ctx context.Context, id string, overlap time.Duration) (Created, error) {
	if m.closed.Load() {
		return Created{}, ErrClosed
	}
	if !ValidID(id) || overlap < 0 {
		return Created{}, fmt.Errorf("%w: key id or overlap", ErrInvalidInput)
	}
	if overlap == 0 {
		overlap = m.o.overlap
	}
	old, a, err := m.store.Key(ctx, id)
	if err != nil {
		return Created{}, err
	}
	now := m.o.now()
	if st := old.StateAt(now); st != StateActive {
		return Created{}, fmt.Errorf("%w: key %s is %s", ErrState, id, st)
	}
	if a.Status != AccountActive {
		return Created{}, fmt.Errorf("%w: service account %s is %s", ErrState, a.ID, a.Status)
	}
	c, err := m.newKey(old.Account, old.Name, old.Expires, old.Narrowing, now)
	if err != nil {
		return Created{}, err
	}
	c.Key.RotatedFrom = old.ID
	old.Retires = now.Add(overlap)
	old.ReplacedBy = c.Key.ID
	if err := m.store.Rotate(ctx, old, c.Key); err != nil {
		return Created{}, err
	}
	perr := errors.Join(m.publish(ctx, old.ID), m.publish(ctx, c.Key.ID))
	d := keyDetail(c.Key)
	d["replaces"] = old.ID
	d["old_retires"] = old.Retires.UTC().Format(time.RFC3339)
	m.emit(ctx, EventKeyRotated, a.Subject(), d)
	return c, perr
}

// Revoke ends a key at once: in this process before it returns, and in
// every process sharing the feed as soon as the feed delivers it. It
// emits apikey.revoked. Revoking a revoked key is not an error.
func (m *Manager) Revoke(ctx context.Context, id, reason string) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if !ValidID(id) || !validText(reason) {
		return fmt.Errorf("%w: key id or reason", ErrInvalidInput)
	}
	k, err := m.store.RevokeKey(ctx, id, m.o.now())
	if err != nil {
		return err
	}
	perr := m.publish(ctx, id)
	d := keyDetail(k)
	d["reason"] = reason
	m.emit(ctx, EventKeyRevoked, rbac.Subject("svc:"+k.Account), d)
	return perr
}
