package iam_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
)

// raceStore is a store through which another writer gets in between the
// reaper's read and its write: before the first change that revokes
// something, it applies each change in ahead, directly to the store.
type raceStore struct {
	store interface {
		iam.PolicySource
		iam.PolicyWriter
	}
	once  sync.Once
	ahead []rbac.Change
	err   error
}

func (s *raceStore) LoadPolicy(ctx context.Context) (rbac.Model, int64, error) {
	return s.store.LoadPolicy(ctx)
}

func (s *raceStore) getAhead(ctx context.Context, c rbac.Change) {
	if len(c.Revoke) == 0 {
		return
	}
	s.once.Do(func() {
		for _, x := range s.ahead {
			if _, err := s.store.Apply(ctx, x); err != nil {
				s.err = err
				return
			}
		}
	})
}

func (s *raceStore) Apply(ctx context.Context, c rbac.Change) (int64, error) {
	s.getAhead(ctx, c)
	return s.store.Apply(ctx, c)
}

// raceEventStore is a raceStore over a store that writes events with the
// change (the path the facade takes with the SQL stores).
type raceEventStore struct{ *raceStore }

func (s raceEventStore) ApplyWithEvents(ctx context.Context, c rbac.Change, events func(int64) []iam.Event) (int64, error) {
	s.getAhead(ctx, c)
	return s.store.(iam.EventWriter).ApplyWithEvents(ctx, c, events)
}

type writableStore interface {
	iam.PolicySource
	iam.PolicyWriter
}

type replacer interface {
	writableStore
	Replace(ctx context.Context, m rbac.Model) (int64, error)
}

func seededWith(t *testing.T, s replacer, m rbac.Model) writableStore {
	t.Helper()
	if _, err := s.Replace(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return s
}

// redteamStores opens each store kind, seeded with m.
var redteamStores = map[string]func(t *testing.T, m rbac.Model) writableStore{
	"memory": func(t *testing.T, m rbac.Model) writableStore { return iamtest.NewStore(m) },
	"sqlite": func(t *testing.T, m rbac.Model) writableStore {
		db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "reap.db")), &gorm.Config{Logger: logger.Discard})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if s, err := db.DB(); err == nil {
				s.Close()
			}
		})
		if err := sqlitestore.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		s, err := sqlitestore.New(db)
		if err != nil {
			t.Fatal(err)
		}
		return seededWith(t, s, m)
	},
	"postgres": func(t *testing.T, m rbac.Model) writableStore {
		db := testdb.Postgres(t)
		if err := pgstore.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		s, err := pgstore.New(db)
		if err != nil {
			t.Fatal(err)
		}
		return seededWith(t, s, m)
	},
}

// TestReaperSparesRenewedGrantsInEveryStore: grants extended, or revoked
// and granted again, between the reaper's read and its write survive the
// reaper, in memory, SQLite and PostgreSQL, through Apply and through
// ApplyWithEvents; the grant nobody touched is reaped.
func TestReaperSparesRenewedGrantsInEveryStore(t *testing.T) {
	t.Parallel()
	noonR := erNoon
	stores := redteamStores
	ivy := rbac.Grant{Subject: "user:ivy", Role: "reader", Scope: "dept:health", NotBefore: noonR.Add(-48 * time.Hour), NotAfter: noonR.Add(-time.Hour), Reason: "acting"}
	kim := rbac.Grant{Subject: "user:kim", Role: "reader", Scope: "ward:7", NotBefore: noonR.Add(-48 * time.Hour), NotAfter: noonR.Add(-time.Hour), Reason: "acting"}
	ann := rbac.Grant{Subject: "user:ann", Role: "deep", Scope: "dept:health", NotBefore: noonR.Add(-3 * time.Hour), NotAfter: noonR.Add(-time.Hour), Reason: "night incident"}
	jo := rbac.Grant{Subject: "user:jo", Role: "reader", Scope: "org", NotBefore: noonR.Add(-48 * time.Hour), NotAfter: noonR.Add(-time.Hour)}
	ivyLater := ivy
	ivyLater.NotAfter = noonR.Add(72 * time.Hour)
	kimAgain := kim
	kimAgain.NotBefore, kimAgain.NotAfter = noonR, noonR.Add(24*time.Hour)
	annAgain := ann
	annAgain.NotBefore, annAgain.NotAfter, annAgain.Reason = noonR, noonR.Add(2*time.Hour), "second incident"
	ahead := []rbac.Change{
		{At: noonR, Revoke: []rbac.GrantKey{ivy.Key()}, Grant: []rbac.Grant{ivyLater}}, // extended in one change
		{At: noonR, Revoke: []rbac.GrantKey{kim.Key()}},                                // revoked, then granted again
		{At: noonR, Grant: []rbac.Grant{kimAgain}},
		{At: noonR, Revoke: []rbac.GrantKey{ann.Key()}, Grant: []rbac.Grant{annAgain}}, // a new emergency activation
	}
	for name, open := range stores {
		for _, events := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/apply", true: "/with events"}[events], func(t *testing.T) {
				t.Parallel()
				m := erCity()
				m.Grants = append(m.Grants, ivy, kim, ann, jo)
				st := open(t, m)
				_, isEW := st.(iam.EventWriter)
				if events && !isEW {
					t.Skip("the store writes no events")
				}
				rs := &raceStore{store: st, ahead: ahead}
				rec := &iamtest.Recorder{}
				a, err := iam.New(context.Background(), rs, iam.WithClock(iamtest.Clock(noonR)), iam.WithAuditSink(rec))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { a.Close() })
				ad := iam.NewAdmin(a, rs)
				if events {
					ad = iam.NewOutboxAdmin(a, raceEventStore{rs})
				}
				rep, err := iam.NewReaper(ad, time.Hour).Reap(context.Background())
				if err != nil || rs.err != nil {
					t.Fatalf("Reap: %v (writer ahead: %v)", err, rs.err)
				}
				if len(rep.Expired) != 1 || rep.Expired[0].Key() != jo.Key() {
					t.Errorf("expired = %+v, want only %s", rep.Expired, jo.Key())
				}
				got, _, err := st.LoadPolicy(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				want := map[rbac.GrantKey]time.Time{ivy.Key(): ivyLater.NotAfter, kim.Key(): kimAgain.NotAfter, ann.Key(): annAgain.NotAfter}
				for _, g := range got.Grants {
					if g.Key() == jo.Key() {
						t.Error("the untouched ended grant survived")
					}
					if until, ok := want[g.Key()]; ok && g.NotAfter.Equal(until) {
						delete(want, g.Key())
					}
				}
				if len(want) != 0 {
					t.Errorf("renewed grants reaped: %v (stored %+v)", want, got.Grants)
				}
				for _, e := range rec.Events() {
					if (e.Type == iam.EventRoleExpired || e.Type == iam.EventEmergencyEnded) && e.Subject != jo.Subject {
						t.Errorf("%s for a renewed grant: %+v", e.Type, e)
					}
				}
				for _, c := range []struct {
					sub   iam.Subject
					perm  iam.Permission
					scope iam.Scope
				}{{"user:ivy", "health.record.read", "facility:clinic"}, {"user:kim", "health.record.read", "ward:7"}, {"user:ann", "health.record.write", "facility:clinic"}} {
					if d, _ := a.Check(context.Background(), c.sub, c.perm, c.scope); !d.Allowed {
						t.Errorf("%s lost the renewed grant", c.sub)
					}
				}
			})
		}
	}
}

// TestActivateEmergencyReplacesOnlyTheEndedGrantItRead: ActivateEmergency
// replaces an ended, unreaped activation of the same key; if someone made
// a new activation of that key in between, it is not revoked: the
// activation is refused, in every store.
func TestActivateEmergencyReplacesOnlyTheEndedGrantItRead(t *testing.T) {
	t.Parallel()
	ended := rbac.Grant{Subject: "user:ann", Role: "deep", Scope: "dept:health", NotBefore: erNoon.Add(-3 * time.Hour), NotAfter: erNoon.Add(-time.Hour), Reason: "night"}
	theirs := ended
	theirs.NotBefore, theirs.NotAfter, theirs.Reason = erNoon, erNoon.Add(time.Hour), "their activation"
	for name, open := range redteamStores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := erCity()
			m.Grants = append(m.Grants, ended)
			st := open(t, m)
			rs := &raceStore{store: st, ahead: []rbac.Change{{At: erNoon, Revoke: []rbac.GrantKey{ended.Key()}, Grant: []rbac.Grant{theirs}}}}
			a, err := iam.New(context.Background(), rs, iam.WithClock(iamtest.Clock(erNoon)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			ad := iam.NewAdmin(a, rs)
			if _, ok := st.(iam.EventWriter); ok {
				ad = iam.NewOutboxAdmin(a, raceEventStore{rs})
			}
			if _, err := ad.ActivateEmergency(context.Background(), "user:ann", "deep", "dept:health", 30*time.Minute, "mine"); err == nil {
				t.Error("an activation replaced one made after it read the store")
			}
			if rs.err != nil {
				t.Fatal(rs.err)
			}
			got, _, err := st.LoadPolicy(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			kept := false
			for _, g := range got.Grants {
				if g.Key() == theirs.Key() {
					kept = g.Reason == theirs.Reason && g.NotAfter.Equal(theirs.NotAfter)
				}
			}
			if !kept {
				t.Errorf("their activation was replaced: %+v", got.Grants)
			}
		})
	}
	// Without a writer in between, the ended activation is replaced.
	m := erCity()
	m.Grants = append(m.Grants, ended)
	a, _ := newLifecycle(t, m, newLCClock(erNoon))
	if _, err := iam.AdminOf(a).ActivateEmergency(context.Background(), "user:ann", "deep", "dept:health", 30*time.Minute, "mine"); err != nil {
		t.Errorf("replacing an ended activation: %v", err)
	}
}
