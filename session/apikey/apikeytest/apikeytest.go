package apikeytest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/apikey"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 123456789, time.UTC)

func account(id string) apikey.Account {
	return apikey.Account{ID: id, Owner: "user:alice", Department: "dept:building", Description: "sync",
		Status: apikey.AccountActive, Created: t0, Changed: t0}
}

func key(id, acct string, at time.Time) apikey.Key {
	k := apikey.Key{ID: id, Account: acct, Name: "key " + id, Created: at}
	for i := range k.Hash {
		k.Hash[i] = byte(i) ^ id[0]
	}
	return k
}

// id returns a well-formed key id ending in c.
func id(c byte) string { return "aaaaaaaaaaaaaaa" + string(c) }

// Run runs the suite; newStore returns an empty, migrated store.
func Run(t *testing.T, newStore func(testing.TB) apikey.Store) {
	ctx := context.Background()
	t.Run("accounts", func(t *testing.T) {
		s := newStore(t)
		if err := s.CreateAccount(ctx, account("b-svc")); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAccount(ctx, account("a-svc")); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAccount(ctx, account("a-svc")); !errors.Is(err, apikey.ErrExists) {
			t.Fatalf("duplicate account: %v", err)
		}
		a, err := s.Account(ctx, "a-svc")
		if err != nil || a.Owner != "user:alice" || a.Status != apikey.AccountActive || !a.Created.Equal(t0) {
			t.Fatalf("Account = %+v, %v", a, err)
		}
		if _, err := s.Account(ctx, "zz"); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("missing account: %v", err)
		}
		as, err := s.Accounts(ctx)
		if err != nil || len(as) != 2 || as[0].ID != "a-svc" {
			t.Fatalf("Accounts = %+v, %v", as, err)
		}
		if err := s.SetAccountStatus(ctx, "a-svc", apikey.AccountDisabled, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if a, _ := s.Account(ctx, "a-svc"); a.Status != apikey.AccountDisabled || !a.Changed.Equal(t0.Add(time.Hour)) {
			t.Fatalf("after disable: %+v", a)
		}
		if err := s.SetAccountStatus(ctx, "zz", apikey.AccountDisabled, t0); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("status of missing: %v", err)
		}
	})
	t.Run("keys", func(t *testing.T) {
		s := newStore(t)
		s.CreateAccount(ctx, account("a-svc"))
		s.CreateAccount(ctx, account("b-svc"))
		k := key(id('b'), "a-svc", t0)
		k.Expires = t0.Add(48 * time.Hour)
		k.Narrowing = apikey.Narrowing{Permissions: []rbac.Permission{"permits.application.read", "permits.application.list"},
			Scopes: []rbac.Scope{"dept:building", "ward:7"}}
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, k); !errors.Is(err, apikey.ErrExists) {
			t.Fatalf("duplicate key: %v", err)
		}
		if err := s.CreateKey(ctx, key(id('c'), "nobody", t0)); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("key of a missing account: %v", err)
		}
		got, a, err := s.Key(ctx, k.ID)
		if err != nil || a.ID != "a-svc" || a.Owner != "user:alice" || got.Hash != k.Hash || !got.Created.Equal(t0) ||
			!got.Expires.Equal(k.Expires) || len(got.Narrowing.Permissions) != 2 || got.Narrowing.Scopes[1] != "ward:7" ||
			!got.Revoked.IsZero() || !got.Retires.IsZero() || !got.LastUsed.IsZero() {
			t.Fatalf("Key = %+v, %+v, %v", got, a, err)
		}
		if _, _, err := s.Key(ctx, id('z')); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("missing key: %v", err)
		}
		s.CreateKey(ctx, key(id('a'), "a-svc", t0.Add(time.Minute)))
		s.CreateKey(ctx, key(id('d'), "b-svc", t0))
		all, _ := s.Keys(ctx, "")
		mine, _ := s.Keys(ctx, "a-svc")
		if len(all) != 3 || len(mine) != 2 || mine[0].ID != id('b') || mine[1].ID != id('a') || all[2].Account != "b-svc" {
			t.Fatalf("Keys: all %d, a-svc %+v", len(all), mine)
		}
		// Revocation keeps its first time.
		r, err := s.RevokeKey(ctx, k.ID, t0.Add(time.Hour))
		if err != nil || !r.Revoked.Equal(t0.Add(time.Hour)) {
			t.Fatalf("RevokeKey = %+v, %v", r, err)
		}
		r, _ = s.RevokeKey(ctx, k.ID, t0.Add(2*time.Hour))
		if !r.Revoked.Equal(t0.Add(time.Hour)) {
			t.Fatalf("second revoke moved the time: %v", r.Revoked)
		}
		if _, err := s.RevokeKey(ctx, id('z'), t0); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("revoke missing: %v", err)
		}
		// Last use only rises.
		if err := s.TouchKeys(ctx, map[string]time.Time{id('a'): t0.Add(time.Hour), id('z'): t0}); err != nil {
			t.Fatal(err)
		}
		s.TouchKeys(ctx, map[string]time.Time{id('a'): t0.Add(time.Minute)})
		if g, _, _ := s.Key(ctx, id('a')); !g.LastUsed.Equal(t0.Add(time.Hour)) {
			t.Fatalf("LastUsed = %v", g.LastUsed)
		}
		// Deleting the account deletes its keys.
		if err := s.DeleteAccount(ctx, "a-svc"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Key(ctx, id('a')); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("key of a deleted account: %v", err)
		}
		if err := s.DeleteAccount(ctx, "a-svc"); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if ks, _ := s.Keys(ctx, ""); len(ks) != 1 {
			t.Fatalf("%d keys left, want 1", len(ks))
		}
	})
	t.Run("rotate", func(t *testing.T) {
		s := newStore(t)
		s.CreateAccount(ctx, account("a-svc"))
		old := key(id('a'), "a-svc", t0)
		s.CreateKey(ctx, old)
		old.Retires = t0.Add(7 * 24 * time.Hour)
		next := key(id('b'), "a-svc", t0.Add(time.Hour))
		next.RotatedFrom = old.ID
		// Concurrent rotations of one key: exactly one wins.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := next
				n.ID = id(byte('b' + i))
				errs[i] = s.Rotate(ctx, old, n)
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, apikey.ErrState):
				t.Fatalf("losing rotation: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d rotations won", wins)
		}
		got, _, _ := s.Key(ctx, old.ID)
		if got.ReplacedBy == "" || !got.Retires.Equal(old.Retires) {
			t.Fatalf("old after rotation: %+v", got)
		}
		n, _, err := s.Key(ctx, got.ReplacedBy)
		if err != nil || n.RotatedFrom != old.ID {
			t.Fatalf("new key %+v, %v", n, err)
		}
		if ks, _ := s.Keys(ctx, ""); len(ks) != 2 {
			t.Fatalf("losing rotations left keys: %d", len(ks))
		}
		// A revoked key cannot be rotated; a missing one is not found.
		s.RevokeKey(ctx, n.ID, t0)
		if err := s.Rotate(ctx, n, key(id('x'), "a-svc", t0)); !errors.Is(err, apikey.ErrState) {
			t.Fatalf("rotate revoked: %v", err)
		}
		if err := s.Rotate(ctx, key(id('y'), "a-svc", t0), key(id('w'), "a-svc", t0)); !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("rotate missing: %v", err)
		}
	})
}
