package sessiontest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/session"
)

// RunEpochs checks the EpochStore e: before migrate has run, reads fail
// with an error wrapping notMigrated; migrate may run twice; epochs are zero
// until raised, a raise never lowers one, parallel raises keep the latest;
// session revocations last until they would have expired; bad subjects and
// session ids are refused.
func RunEpochs(t *testing.T, e session.EpochStore, migrate func(context.Context) error, notMigrated error) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Revocations(ctx, "user:alice", time.Now()); !errors.Is(err, notMigrated) {
		t.Fatalf("before migrating: %v", err)
	}
	for range 2 {
		if err := migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 3, 14, 12, 0, 0, 123456789, time.UTC)
	if got, err := e.Revocations(ctx, "user:alice", base); err != nil || !got.Epoch.IsZero() || len(got.Sessions) != 0 {
		t.Fatalf("no epoch yet: %v %v", got, err)
	}
	if got, err := e.RaiseEpoch(ctx, "user:alice", base); err != nil || !got.Equal(base) {
		t.Fatalf("raise: %v %v", got, err)
	}
	if got, err := e.RaiseEpoch(ctx, "user:alice", base.Add(-time.Hour)); err != nil || !got.Equal(base) {
		t.Fatalf("a lower raise lowered the epoch: %v %v", got, err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.RaiseEpoch(ctx, "user:alice", base.Add(time.Duration(i)*time.Second)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, err := e.Revocations(ctx, "user:alice", base); err != nil || !got.Epoch.Equal(base.Add(19*time.Second)) {
		t.Fatalf("after parallel raises: %v %v", got, err)
	}
	for _, bad := range []string{"", strings.Repeat("x", 257)} {
		if _, err := e.RaiseEpoch(ctx, bad, base); err == nil {
			t.Errorf("subject of %d bytes accepted", len(bad))
		}
	}
	if got, _ := e.Revocations(ctx, "user:bob", base); !got.Epoch.IsZero() {
		t.Errorf("bob has an epoch")
	}

	// Sessions revoked one at a time, until they would have expired.
	if err := e.RevokeSession(ctx, "user:alice", "s1", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.RevokeSession(ctx, "user:alice", "s1", base.Add(time.Minute)); err != nil { // again, shorter: keeps the longer
		t.Fatal(err)
	}
	if err := e.RevokeSession(ctx, "user:bob", "s2", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Revocations(ctx, "user:alice", base.Add(30*time.Minute)); err != nil || len(got.Sessions) != 1 || got.Sessions[0] != "s1" ||
		!got.Revoked(session.Session{ID: "s1", Created: base.Add(time.Hour)}) || got.Revoked(session.Session{ID: "s3", Created: base.Add(time.Hour)}) {
		t.Fatalf("alice's revocations: %+v, %v", got, err)
	}
	if got, _ := e.Revocations(ctx, "user:alice", base.Add(2*time.Hour)); len(got.Sessions) != 0 {
		t.Errorf("an expired revocation is still listed: %+v", got)
	}
	for _, bad := range []string{"", strings.Repeat("x", 65)} {
		if err := e.RevokeSession(ctx, "user:alice", bad, base); err == nil {
			t.Errorf("session id of %d bytes accepted", len(bad))
		}
	}
}
