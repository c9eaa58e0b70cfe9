package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/civic-platform/security/adapters/pgoutbox"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "emergency:", err)
		os.Exit(1)
	}
}

// journal is an in-memory audit sink: the example's stand-in for the audit
// service the review is built from.
type journal struct {
	mu     sync.Mutex
	events []iam.Event
}

func (j *journal) Record(_ context.Context, e iam.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
	return nil
}

func (j *journal) all() []iam.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]iam.Event(nil), j.events...)
}

// simClock is the simulated wall clock.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "civic-iam-emergency-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(filepath.Join(dir, "policy.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := sqlitestore.Migrate(ctx, store.DB()); err != nil {
		return err
	}

	set, err := templates.Default()
	if err != nil {
		return err
	}
	eoc, err := set.Instantiate("emergency-operations", "emergency-operations")
	if err != nil {
		return err
	}
	fireChief, err := set.Instantiate("fire-chief", "fire-chief")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "role %s (%s / %s): emergency=%v composite=%v\n", eoc.ID, eoc.Labels["en"], eoc.Labels["fr"], eoc.Emergency, eoc.Composite)
	if _, err := store.Replace(ctx, rbac.Model{
		Permissions: set.Permissions(),
		Scopes:      []rbac.ScopeNode{{Scope: "dept:fire"}, {Scope: "dept:publicworks"}, {Scope: "dept:transit"}, {Scope: "dept:finance"}},
		Roles:       []rbac.Role{eoc, fireChief},
		Grants:      []rbac.Grant{{Subject: "user:farah", Role: "fire-chief", Scope: "dept:fire"}},
	}); err != nil {
		return err
	}

	clock := &simClock{now: time.Date(2026, 4, 18, 3, 0, 0, 0, time.UTC)}
	sink := &journal{}
	authz, err := iam.New(ctx, store, iam.WithClock(clock.Now), iam.WithAuditSink(sink))
	if err != nil {
		return err
	}
	defer authz.Close()
	// Activations and their events are written in one transaction (the
	// store's outbox); the relay delivers the events to the sink.
	admin := iam.NewOutboxAdmin(authz, store)
	relay, err := pgoutbox.New(store.DB(), sink, pgoutbox.WithClock(clock.Now))
	if err != nil {
		return err
	}

	// Bad windows are refused before anything is written.
	for _, window := range []time.Duration{0, -time.Hour, 36 * time.Hour} {
		_, err := admin.ActivateEmergency(ctx, "user:dana", "emergency-operations", "org", window, "flood")
		if !errors.Is(err, iam.ErrInvalidInput) {
			return fmt.Errorf("window %v: got %v, want invalid input", window, err)
		}
		fmt.Fprintf(w, "activate for %v: refused (%v)\n", window, err)
	}

	// The CAO activates EOC access for Dana, the duty emergency manager.
	act, err := admin.ActivateEmergency(iam.ContextWithActor(ctx, "user:cao"), "user:dana", "emergency-operations", "org",
		8*time.Hour, "Spring flood: EOC activated at level 3")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "activated %s for %s from %s until %s\n", act.Role, act.Subject, act.From.Format(time.RFC3339), act.Until.Format(time.RFC3339))

	// Act under it.
	steps := []struct {
		after time.Duration
		perm  iam.Permission
		scope iam.Scope
	}{
		{5 * time.Minute, "publicworks.road.close", "dept:publicworks"},
		{10 * time.Minute, "utilities.water.valve.operate", "dept:publicworks"},
		{20 * time.Minute, "fire.apparatus.dispatch", "dept:fire"},
		{45 * time.Minute, "transit.route.detour", "dept:transit"},
		{2 * time.Hour, "finance.po.approve", "dept:finance"}, // not part of the role: denied, and still recorded
	}
	for _, s := range steps {
		clock.Advance(s.after)
		d, err := authz.Check(ctx, "user:dana", s.perm, s.scope)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s %s at %s: allowed=%v\n", clock.Now().Format("15:04"), s.perm, s.scope, d.Allowed)
	}

	// The window ends by itself: the next check is refused without any job.
	clock.Advance(8 * time.Hour)
	d, err := authz.Check(ctx, "user:dana", "publicworks.road.close", "dept:publicworks")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s after the window: allowed=%v\n", clock.Now().Format("15:04"), d.Allowed)

	// The reaper removes the grant and reports the end.
	rep, err := iam.NewReaper(admin, time.Hour).Reap(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "reaper removed %d grant(s) at revision %d\n", len(rep.Expired), rep.Revision)
	if _, err := relay.Drain(ctx); err != nil {
		return err
	}

	// The post-incident review, from the recorded events.
	review := reports.EmergencyReview(sink.all(), act)
	fmt.Fprintf(w, "review: %d actions under %s, ended %s (%s)\n", len(review.Actions), act.ID[:8]+"…", review.Ended.Format(time.RFC3339), review.How)
	for _, a := range review.Actions {
		fmt.Fprintf(w, "  %s %-32s allowed=%-5v %s\n", a.Time.Format("15:04"), a.Permission, a.Allowed, a.Path)
	}
	for _, name := range []string{"review.csv", "review.json"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		write := review.WriteCSV
		if filepath.Ext(name) == ".json" {
			write = review.WriteJSON
		}
		if err := errors.Join(write(f), f.Close()); err != nil {
			return err
		}
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "exported %s (%d bytes)\n", name, info.Size())
	}
	for _, e := range sink.all() {
		if e.Type != iam.EventEmergency {
			fmt.Fprintf(w, "event: %s %s\n", e.Type, e.Subject)
		}
	}
	return nil
}
