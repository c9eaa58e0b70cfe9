package sqlitestore_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/internal/gormstore/storetest"
	"github.com/civic-platform/security/rbac"
)

// migrated opens a migrated file in a temporary directory.
func migrated(t *testing.T) *sqlitestore.Store {
	t.Helper()
	s := open(t, filepath.Join(t.TempDir(), "fallback.db"))
	if err := sqlitestore.Migrate(context.Background(), s.DB()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := migrated(t)
	if _, _, _, err := s.LoadSnapshot(ctx); !errors.Is(err, sqlitestore.ErrNoSnapshot) {
		t.Fatalf("LoadSnapshot on a new file: %v, want ErrNoSnapshot", err)
	}
	at := storetest.Noon.Add(123456789)
	if err := s.SaveSnapshot(ctx, storetest.CityModel(), 42, at); err != nil {
		t.Fatal(err)
	}
	m, rev, confirmed, err := s.LoadSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rev != 42 || !confirmed.Equal(at) {
		t.Errorf("copy at revision %d confirmed %v, want 42 and %v", rev, confirmed, at)
	}
	storetest.Equal(t, m, storetest.CityModel(), true)

	// Confirmations apply only to the kept revision, and only forward.
	for _, c := range []struct {
		rev  int64
		at   time.Time
		want time.Time
	}{
		{41, at.Add(time.Hour), at},
		{42, at.Add(time.Minute), at.Add(time.Minute)},
		{42, at, at.Add(time.Minute)},
	} {
		if err := s.ConfirmSnapshot(ctx, c.rev, c.at); err != nil {
			t.Fatal(err)
		}
		if _, _, got, err := s.LoadSnapshot(ctx); err != nil || !got.Equal(c.want) {
			t.Errorf("after ConfirmSnapshot(%d, %v): confirmed %v, %v; want %v", c.rev, c.at, got, err, c.want)
		}
	}

	// An invalid model is refused and the kept copy stays.
	bad := storetest.CityModel()
	bad.Grants = append(bad.Grants, rbac.Grant{Subject: "user:x", Role: "no-such-role", Scope: "org"})
	if err := s.SaveSnapshot(ctx, bad, 43, at); !errors.Is(err, rbac.ErrInvalidInput) && !errors.Is(err, rbac.ErrNotFound) {
		t.Errorf("SaveSnapshot of an invalid model: %v", err)
	}
	if _, rev, _, err := s.LoadSnapshot(ctx); err != nil || rev != 42 {
		t.Errorf("after a refused save: revision %d, %v; want 42", rev, err)
	}
}

func TestSnapshotDamaged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	for name, doc := range map[string][]byte{
		"empty":          {},
		"not gzip":       []byte("p, user:x, role:admin, org"),
		"not JSON":       gz("{lines: nope"),
		"other version":  gz(`{"v":2,"lines":[]}`),
		"empty line":     gz(`{"v":1,"lines":[[]]}`),
		"unknown ptype":  gz(`{"v":1,"lines":[["x","a"]]}`),
		"short p line":   gz(`{"v":1,"lines":[["p","user:x"]]}`),
		"bad extras":     gz(`{"v":1,"lines":[],"extras":{"v":99}}`),
		"truncated gzip": gz(`{"v":1,"lines":[]}`)[:10],
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := migrated(t)
			if err := s.DB().Exec("INSERT INTO "+sqlitestore.SnapshotTable+" (id, revision, confirmed, doc) VALUES (1, 7, 0, ?)", doc).Error; err != nil {
				t.Fatal(err)
			}
			_, _, _, err := s.LoadSnapshot(ctx)
			if err == nil || errors.Is(err, sqlitestore.ErrNoSnapshot) {
				t.Fatalf("LoadSnapshot of a damaged copy: %v", err)
			}
			if !strings.Contains(err.Error(), "revision 7") {
				t.Errorf("error does not name the copy's revision: %v", err)
			}
		})
	}
}

func TestSnapshotUnmigrated(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "bare.db"))
	err := s.SaveSnapshot(context.Background(), storetest.CityModel(), 1, storetest.Noon)
	if !errors.Is(err, sqlitestore.ErrNotMigrated) {
		t.Errorf("SaveSnapshot without Migrate: %v, want ErrNotMigrated", err)
	}
	if _, _, _, err := s.LoadSnapshot(context.Background()); !errors.Is(err, sqlitestore.ErrNotMigrated) {
		t.Errorf("LoadSnapshot without Migrate: %v, want ErrNotMigrated", err)
	}
}

// switchSource is a policy source that can be made unreachable.
type switchSource struct {
	mu  sync.Mutex
	m   rbac.Model
	rev int64
	err error
}

func (s *switchSource) LoadPolicy(context.Context) (rbac.Model, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return rbac.Model{}, 0, s.err
	}
	return s.m, s.rev, nil
}

func (s *switchSource) set(m rbac.Model, rev int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m, s.rev, s.err = m, rev, err
}

// eventually polls cond every 10 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAuthorizerStartsFromFallback runs an Authorizer that keeps a copy in
// a SQLite file, then starts another while the store is unreachable, and
// brings the store back.
func TestAuthorizerStartsFromFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb := migrated(t)
	m := storetest.CityModel()
	clock := iam.WithClock(iamtest.Clock(storetest.Noon))
	down := errors.New("connection refused")
	const sub, x, scope = "user:carol", "finance.budget.approve", "dept:finance"

	// The store is down and nothing was kept: New fails, saying both.
	src := &switchSource{err: down}
	if _, err := iam.New(ctx, src, clock, iam.WithFallback(fb)); !errors.Is(err, down) || !errors.Is(err, sqlitestore.ErrNoSnapshot) {
		t.Fatalf("New with the store down and no copy: %v", err)
	}

	// A running Authorizer keeps a copy of what it loads.
	src.set(m, 9, nil)
	first, err := iam.New(ctx, src, clock, iam.WithFallback(fb))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the copy to be saved", func() bool {
		_, rev, _, err := fb.LoadSnapshot(ctx)
		return err == nil && rev == 9
	})
	first.Close()
	if d, err := first.Check(ctx, sub, x, scope); err == nil || d.Allowed {
		t.Fatalf("closed Authorizer answered %+v, %v", d, err)
	}
	want, err := iam.New(ctx, iamtest.NewStore(m), clock)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if err := want.Require(ctx, sub, x, scope); err != nil {
		t.Fatalf("the fixture must allow %s %s at %s: %v", sub, x, scope, err)
	}

	// The store goes down; a new process starts from the copy.
	src.set(rbac.Model{}, 0, down)
	a, err := iam.New(ctx, src, clock, iam.WithFallback(fb))
	if err != nil {
		t.Fatalf("New with the store down and a copy kept: %v", err)
	}
	defer a.Close()
	h := a.Health()
	if !h.Fallback || h.Revision != 9 || !errors.Is(h.LastError, down) || h.LastConfirmed.IsZero() {
		t.Fatalf("health while serving the copy: %+v", h)
	}
	if err := a.Require(ctx, sub, x, scope); err != nil {
		t.Fatalf("check from the copy: %v", err)
	}

	// The store comes back with a revocation: the Authorizer finds it.
	revoked := storetest.CityModel()
	kept := revoked.Grants[:0]
	for _, g := range revoked.Grants {
		if g.Subject != sub {
			kept = append(kept, g)
		}
	}
	revoked.Grants = kept
	src.set(revoked, 10, nil)
	eventually(t, "the store to be read again", func() bool { return !a.Health().Fallback && a.Revision() == 10 })
	if d, err := a.Check(ctx, sub, x, scope); err != nil || d.Allowed {
		t.Fatalf("after the store came back with a revoke: %+v, %v", d, err)
	}
	eventually(t, "the new revision to be kept", func() bool {
		_, rev, _, err := fb.LoadSnapshot(ctx)
		return err == nil && rev == 10
	})
}

// TestFallbackCopyHonoursStaleness starts from a copy confirmed longer ago
// than the staleness bound: checks fail closed.
func TestFallbackCopyHonoursStaleness(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb := migrated(t)
	if err := fb.SaveSnapshot(ctx, storetest.CityModel(), 3, storetest.Noon.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	src := &switchSource{err: errors.New("connection refused")}
	a, err := iam.New(ctx, src, iam.WithClock(iamtest.Clock(storetest.Noon)), iam.WithFallback(fb), iam.WithMaxStaleness(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d, err := a.Check(ctx, "user:carol", "finance.budget.approve", "dept:finance")
	if !errors.Is(err, iam.ErrStale) || d.Allowed {
		t.Fatalf("check from a copy confirmed an hour ago with a one-minute bound: %+v, %v; want ErrStale", d, err)
	}
	if h := a.Health(); !h.Stale || !h.Fallback {
		t.Errorf("health: %+v, want stale and on the fallback", h)
	}
}

// TestFallbackCopyThatDoesNotCompile refuses to start from it.
func TestFallbackCopyThatDoesNotCompile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fb := migrated(t)
	// A copy whose grant names a role that does not exist, written as
	// lines; SaveSnapshot itself would refuse it.
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(`{"v":1,"lines":[["p","user:x","role:ghost","org","00000000000000000000","99999999999999999999","allow"]]}`))
	w.Close()
	if err := fb.DB().Exec("INSERT INTO "+sqlitestore.SnapshotTable+" (id, revision, confirmed, doc) VALUES (1, 5, 0, ?)", b.Bytes()).Error; err != nil {
		t.Fatal(err)
	}
	down := errors.New("connection refused")
	_, err := iam.New(ctx, &switchSource{err: down}, iam.WithFallback(fb))
	if err == nil || !errors.Is(err, down) || !errors.Is(err, rbac.ErrInvalidInput) && !errors.Is(err, rbac.ErrNotFound) {
		t.Fatalf("New from a copy that does not compile: %v", err)
	}
}
