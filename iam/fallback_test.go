package iam_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

// memFallback is an iam.SnapshotStore in memory that records its calls.
type memFallback struct {
	mu        sync.Mutex
	m         rbac.Model
	rev       int64
	confirmed time.Time
	saves     []int64
	confirms  []time.Time
}

func (f *memFallback) SaveSnapshot(_ context.Context, m rbac.Model, rev int64, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m, f.rev, f.confirmed = m, rev, at
	f.saves = append(f.saves, rev)
	return nil
}

func (f *memFallback) ConfirmSnapshot(_ context.Context, rev int64, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirms = append(f.confirms, at)
	if rev == f.rev && at.After(f.confirmed) {
		f.confirmed = at
	}
	return nil
}

func (f *memFallback) LoadSnapshot(context.Context) (rbac.Model, int64, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.saves == nil {
		return rbac.Model{}, 0, time.Time{}, errors.New("nothing kept")
	}
	return f.m, f.rev, f.confirmed, nil
}

func (f *memFallback) calls() (saves []int64, confirms []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.saves...), append([]time.Time(nil), f.confirms...)
}

// TestFallbackKeepsCopyCurrent checks what the Authorizer writes to its
// fallback store: every new revision, and while nothing changes a
// confirmation at most once a minute.
func TestFallbackKeepsCopyCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock(noon)
	src := &flakySource{m: city(), rev: 1}
	fb := &memFallback{}
	a, err := iam.New(ctx, src, iam.WithClock(clk.now), iam.WithFallback(fb))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, 10*time.Second, func() bool { s, _ := fb.calls(); return len(s) == 1 && s[0] == 1 })

	clk.set(noon.Add(10 * time.Second)) // too soon to record a confirmation
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	clk.set(noon.Add(2 * time.Minute)) // due
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { _, c := fb.calls(); return len(c) > 0 })
	if _, c := fb.calls(); len(c) != 1 || !c[0].Equal(noon.Add(2*time.Minute)) {
		t.Fatalf("confirmations %v, want one at noon+2m", c)
	}

	src.set(city(), 2, nil)
	clk.set(noon.Add(3 * time.Minute))
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { s, _ := fb.calls(); return len(s) == 2 && s[1] == 2 })
	if _, c := fb.calls(); len(c) != 1 {
		t.Errorf("a save also queued a confirmation: %v", c)
	}
	if _, rev, at, _ := fb.LoadSnapshot(ctx); rev != 2 || !at.Equal(noon.Add(3*time.Minute)) {
		t.Errorf("kept copy at revision %d confirmed %v, want 2 at noon+3m", rev, at)
	}
}

// TestWithoutFallbackNewFails keeps the rule that an unreadable store at
// start is an error when no fallback is configured.
func TestWithoutFallbackNewFails(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	if _, err := iam.New(context.Background(), &flakySource{err: down}, iam.WithFallback(nil)); !errors.Is(err, down) {
		t.Fatalf("New with the store down and no fallback: %v", err)
	}
}

// keptCopy returns a fallback store that holds m at rev, confirmed at
// confirmed, as an earlier run of the service left it.
func keptCopy(m rbac.Model, rev int64, confirmed time.Time) *memFallback {
	return &memFallback{m: m, rev: rev, confirmed: confirmed, saves: []int64{}}
}

// compiledRevSource is revSource that is also an iam.CompiledSource, which,
// like the stores, reads nothing more when the revision is not above after.
type compiledRevSource struct{ *revSource }

func (s compiledRevSource) LoadCompiled(ctx context.Context, after int64) (rbac.Model, *rbac.Policy, int64, error) {
	if after >= 0 {
		rev, err := s.Revision(ctx)
		if err != nil {
			return rbac.Model{}, nil, 0, err
		}
		if rev <= after {
			return rbac.Model{}, nil, rev, nil
		}
	}
	m, rev, err := s.LoadPolicy(ctx)
	if err != nil {
		return rbac.Model{}, nil, 0, err
	}
	p, err := rbac.Compile(m)
	return m, p, rev, err
}

// plainSource is revSource seen only as an iam.PolicySource.
type plainSource struct{ s *revSource }

func (p plainSource) LoadPolicy(ctx context.Context) (rbac.Model, int64, error) {
	return p.s.LoadPolicy(ctx)
}

// logBuffer is a slog handler's output that tests can read while the
// Authorizer writes.
type logBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// reordered is freshModel(false) with every list in another order: the
// same policy.
func reordered() rbac.Model {
	m := freshModel(false)
	slices.Reverse(m.Grants)
	m.Roles = append([]rbac.Role{{ID: "viewer", Permissions: []rbac.Permission{"permits.application.list", "permits.application.read"}}}, m.Roles...)
	return m
}

// TestLeavingFallbackComparesContent starts from a kept copy while the
// store is down, then brings the store back at various revisions and
// contents, through each kind of source and both ways of getting there
// (an explicit Reload and the Authorizer's own retry). The store's policy
// always ends up serving; a copy that was not the store's policy at its
// revision is reported in Health, the log and an audit event.
func TestLeavingFallbackComparesContent(t *testing.T) {
	t.Parallel()
	const copyRev = 4
	withViewer := func(m rbac.Model) rbac.Model {
		m.Roles = append(m.Roles, rbac.Role{ID: "viewer", Permissions: []rbac.Permission{"permits.application.read", "permits.application.list"}})
		return m
	}
	kept := withViewer(freshModel(false)) // the copy lets ann read
	for _, c := range []struct {
		name     string
		store    rbac.Model
		rev      int64
		annReads bool // what the store's policy says
		mismatch bool
	}{
		{"same revision, same content", withViewer(freshModel(false)), copyRev, true, false},
		{"same revision, same content in another order", reordered(), copyRev, true, false},
		{"same revision, grant revoked", withViewer(freshModel(true)), copyRev, false, true},
		{"same revision, role emptied", func() rbac.Model {
			m := withViewer(freshModel(false))
			m.Roles[0].Permissions = []rbac.Permission{"permits.application.list"}
			return m
		}(), copyRev, false, true},
		{"same revision, only a reason differs", func() rbac.Model {
			m := withViewer(freshModel(false))
			m.Grants[1].Reason = "changed behind the store's back"
			return m
		}(), copyRev, true, true},
		{"store behind the copy", withViewer(freshModel(true)), copyRev - 1, false, true},
		{"store ahead of the copy", withViewer(freshModel(true)), copyRev + 1, false, false},
	} {
		for _, kind := range []string{"revision", "compiled", "plain"} {
			for _, via := range []string{"Reload", "retry"} {
				t.Run(c.name+"/"+kind+"/"+via, func(t *testing.T) {
					t.Parallel()
					ctx := context.Background()
					rs := &revSource{err: errors.New("connection refused")}
					var src iam.PolicySource = rs
					switch kind {
					case "compiled":
						src = compiledRevSource{rs}
					case "plain":
						src = plainSource{rs}
					}
					fb := keptCopy(kept, copyRev, t0)
					rec := &iamtest.Recorder{}
					logs := &logBuffer{}
					a, err := iam.New(ctx, src, iam.WithClock(iamtest.Clock(t0)), iam.WithFallback(fb), iam.WithAuditSink(rec),
						iam.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
					if err != nil {
						t.Fatal(err)
					}
					defer a.Close()
					if err := a.Require(ctx, annSub, readPerm, ward7); err != nil {
						t.Fatalf("from the copy: %v", err)
					}
					rs.set(c.store, c.rev, nil)
					if via == "Reload" {
						if err := a.Reload(ctx); err != nil {
							t.Fatal(err)
						}
					} else {
						waitFor(t, 10*time.Second, func() bool { return !a.Health().Fallback })
					}
					h := a.Health()
					if h.Fallback || h.Revision != c.rev || h.LastError != nil {
						t.Fatalf("after the store came back: %+v", h)
					}
					d, err := a.Check(ctx, annSub, readPerm, ward7)
					if err != nil || d.Allowed != c.annReads {
						t.Fatalf("after the store came back: %+v, %v; want allowed=%v (the store's policy)", d, err, c.annReads)
					}
					var me *iam.FallbackMismatchError
					events := 0
					for _, e := range rec.Events() {
						if e.Type == iam.EventFallbackMismatch {
							events++
						}
					}
					if !c.mismatch {
						if h.FallbackMismatch != nil || events != 0 || strings.Contains(logs.String(), "not the store's policy") {
							t.Fatalf("a matching copy was reported: %v, %d events, log %q", h.FallbackMismatch, events, logs.String())
						}
						return
					}
					if !errors.As(h.FallbackMismatch, &me) || !errors.Is(h.FallbackMismatch, iam.ErrFallbackMismatch) ||
						me.CopyRevision != copyRev || me.StoreRevision != c.rev || !me.At.Equal(t0) {
						t.Fatalf("Health.FallbackMismatch = %#v", h.FallbackMismatch)
					}
					if events != 1 {
						t.Errorf("%d %s events, want 1: %+v", events, iam.EventFallbackMismatch, rec.Events())
					}
					if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "not the store's policy") {
						t.Errorf("no error logged: %q", logs.String())
					}
					// The copy is replaced by the store's policy.
					waitFor(t, 10*time.Second, func() bool {
						s, _ := fb.calls()
						return len(s) > 0 && s[len(s)-1] == c.rev
					})
					// Later reloads keep the report.
					if err := a.Reload(ctx); err != nil {
						t.Fatal(err)
					}
					if !errors.Is(a.Health().FallbackMismatch, iam.ErrFallbackMismatch) {
						t.Errorf("the report did not stay")
					}
				})
			}
		}
	}
}

// failingFallback is a memFallback whose saves fail while err is set.
type failingFallback struct {
	memFallback
	mu  sync.Mutex
	err error
}

func (f *failingFallback) SaveSnapshot(ctx context.Context, m rbac.Model, rev int64, at time.Time) error {
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.memFallback.SaveSnapshot(ctx, m, rev, at)
}

// TestHealthReportsFallbackErrors: a copy that cannot be saved shows in
// Health until a save succeeds.
func TestHealthReportsFallbackErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	disk := errors.New("disk full")
	fb := &failingFallback{err: disk}
	src := &flakySource{m: city(), rev: 1}
	a, err := iam.New(ctx, src, iam.WithFallback(fb), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, 10*time.Second, func() bool { return errors.Is(a.Health().FallbackError, disk) })
	fb.mu.Lock()
	fb.err = nil
	fb.mu.Unlock()
	src.set(city(), 2, nil)
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return a.Health().FallbackError == nil })
	if s, _ := fb.calls(); len(s) != 1 || s[0] != 2 {
		t.Errorf("saves %v, want revision 2", s)
	}
}

// sodModel is a policy with conflict rules, waivers, labels and reasons;
// reverse lists everything in the opposite order, and waiverEnds moves the
// end of the first waiver.
func sodModel(reverse bool, waiverEnds time.Time) rbac.Model {
	m := rbac.Model{
		Roles: []rbac.Role{
			{ID: "po-create", Permissions: []rbac.Permission{"finance.po.create"}, Labels: map[string]string{"en": "PO creator", "fr": "Créateur de BC"}},
			{ID: "po-approve", Permissions: []rbac.Permission{"finance.po.approve"}, Labels: map[string]string{"fr": "Approbateur", "en": "PO approver"}},
			{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:ann", Role: "clerk", Scope: "org", Reason: "counter"},
			{Subject: "user:bo", Role: "po-create", Scope: "org", Reason: "buyer"},
			{Subject: "user:cy", Role: "po-approve", Scope: "org"},
		},
		Conflicts: []rbac.ConflictRule{
			{ID: "po", Description: "create vs approve", Roles: [2]rbac.RoleID{"po-create", "po-approve"}},
			{ID: "po-perm", Permissions: [2]rbac.Permission{"finance.po.create", "finance.po.approve"}},
		},
		Waivers: []rbac.Waiver{
			{Rule: "po", Subject: "user:bo", ApprovedBy: "user:cfo", Reason: "small office", NotAfter: waiverEnds},
			{Rule: "po-perm", Subject: "user:bo", ApprovedBy: "user:cfo", Reason: "small office"},
		},
	}
	if reverse {
		slices.Reverse(m.Roles)
		slices.Reverse(m.Grants)
		slices.Reverse(m.Conflicts)
		slices.Reverse(m.Waivers)
	}
	return m
}

// TestLeavingFallbackComparesEverythingStored: the comparison covers what
// only the extras document carries (conflict rules, waivers, labels,
// reasons) and ignores the order of lists.
func TestLeavingFallbackComparesEverythingStored(t *testing.T) {
	t.Parallel()
	end := t0.Add(30 * 24 * time.Hour)
	for _, c := range []struct {
		name     string
		store    rbac.Model
		mismatch bool
	}{
		{"same, same order", sodModel(false, end), false},
		{"same, every list reversed", sodModel(true, end), false},
		{"same, waiver end in another zone", sodModel(true, end.In(time.FixedZone("x", -5*3600))), false},
		{"waiver extended", sodModel(false, end.Add(time.Hour)), true},
		{"conflict rule dropped", func() rbac.Model {
			m := sodModel(false, end)
			m.Conflicts = m.Conflicts[1:]
			m.Waivers = m.Waivers[1:]
			return m
		}(), true},
		{"label changed", func() rbac.Model {
			m := sodModel(false, end)
			m.Roles[0].Labels = map[string]string{"en": "x"}
			return m
		}(), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rs := &revSource{err: errors.New("connection refused")}
			a, err := iam.New(ctx, rs, quiet, iam.WithClock(iamtest.Clock(t0)), iam.WithFallback(keptCopy(sodModel(false, end), 9, t0)))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			rs.set(c.store, 9, nil)
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if h := a.Health(); h.Fallback || (h.FallbackMismatch != nil) != c.mismatch {
				t.Fatalf("Health after the store came back: fallback %v, mismatch %v; want mismatch=%v", h.Fallback, h.FallbackMismatch, c.mismatch)
			}
		})
	}
}

// TestLeavingFallbackComparesQuarantine: a copy and a store at the same
// revision that differ only in their quarantined rows (which deny every
// check of the subjects they block) or in ImplicitScopes are different
// policies: the difference is reported and the store's quarantine decides.
func TestLeavingFallbackComparesQuarantine(t *testing.T) {
	t.Parallel()
	end := t0.Add(30 * 24 * time.Hour)
	blocked := func(m rbac.Model) rbac.Model {
		m.Quarantine = []rbac.QuarantinedRow{{ID: 41, PType: "p", Values: []string{"user:ann", "org", "permits.application.read", "deny", "x"},
			Reason: "unknown effect", Blocks: []rbac.Subject{"user:ann"}}}
		return m
	}
	implicit := func(m rbac.Model) rbac.Model { m.ImplicitScopes = true; return m }
	for _, c := range []struct {
		name        string
		copy, store rbac.Model
		annAllowed  bool // after the store is back
	}{
		{"the store quarantined a row the copy lacks", sodModel(false, end), blocked(sodModel(false, end)), false},
		{"the copy carries a quarantine the store lacks", blocked(sodModel(false, end)), sodModel(false, end), true},
		{"the store blocks another subject", blocked(sodModel(false, end)), func() rbac.Model {
			m := blocked(sodModel(false, end))
			m.Quarantine[0].Blocks = []rbac.Subject{"user:bo"}
			return m
		}(), true},
		{"implicit scopes differ", sodModel(false, end), implicit(sodModel(false, end)), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rs := &revSource{err: errors.New("connection refused")}
			a, err := iam.New(ctx, rs, quiet, iam.WithClock(iamtest.Clock(t0)), iam.WithFallback(keptCopy(c.copy, 9, t0)))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			rs.set(c.store, 9, nil)
			if err := a.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if h := a.Health(); h.Fallback || !errors.Is(h.FallbackMismatch, iam.ErrFallbackMismatch) {
				t.Fatalf("Health after the store came back: fallback %v, mismatch %v; want a mismatch", h.Fallback, h.FallbackMismatch)
			}
			d, err := a.Check(ctx, annSub, "permits.application.read", "org")
			if err != nil || d.Allowed != c.annAllowed {
				t.Errorf("Check for user:ann = %v, %v; want allowed = %v (the store's quarantine)", d.Allowed, err, c.annAllowed)
			}
		})
	}
}
