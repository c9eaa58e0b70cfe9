package iam_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/rbac"
)

func TestActivateEmergencyRefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		role   iam.RoleID
		window time.Duration
		reason string
		want   error
	}{
		{"zero window", "eoc", 0, "flood", iam.ErrInvalidInput},
		{"negative window", "eoc", -time.Hour, "flood", iam.ErrInvalidInput},
		{"window over 24h", "eoc", 24*time.Hour + time.Nanosecond, "flood", iam.ErrInvalidInput},
		{"no reason", "eoc", time.Hour, "  ", iam.ErrInvalidInput},
		{"not an emergency role", "auditor", time.Hour, "flood", iam.ErrInvalidInput},
		{"missing role", "mayor", time.Hour, "flood", iam.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, rec := newLifecycle(t, sodCity(), newLCClock(noon))
			_, err := iam.AdminOf(a).ActivateEmergency(context.Background(), "user:eve", tt.role, "org", tt.window, tt.reason)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ActivateEmergency: %v, want %v", err, tt.want)
			}
			var inv *rbac.InvalidError
			var nf *rbac.NotFoundError
			if !errors.As(err, &inv) && !errors.As(err, &nf) {
				t.Errorf("error %T is not typed", err)
			}
			if n := len(rec.Events()); n != 0 {
				t.Errorf("%d events for a refused activation", n)
			}
		})
	}
	// Exactly 24h is allowed.
	a, _ := newLifecycle(t, sodCity(), newLCClock(noon))
	if _, err := iam.AdminOf(a).ActivateEmergency(context.Background(), "user:eve", "eoc", "org", 24*time.Hour, "flood"); err != nil {
		t.Errorf("24h window: %v", err)
	}
}

func TestEmergencyLifecycle(t *testing.T) {
	t.Parallel()
	c := newLCClock(noon)
	a, rec := newLifecycle(t, sodCity(), c)
	ctx := iam.ContextWithActor(context.Background(), "user:cao")
	act, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:eve", "eoc", "org", 2*time.Hour, "spring flood, EOC level 3")
	if err != nil {
		t.Fatal(err)
	}
	if act.ID == "" || !act.Until.Equal(noon.Add(2*time.Hour)) {
		t.Errorf("activation = %+v", act)
	}
	activated := eventsOf(rec, iam.EventEmergencyActivated)
	if len(activated) != 1 || activated[0].ID != act.ID || activated[0].Actor != "user:cao" || activated[0].Detail["window"] != "2h0m0s" {
		t.Errorf("emergency.activated = %+v", activated)
	}
	// Act under it.
	c.Add(10 * time.Minute)
	for _, x := range []struct {
		perm  iam.Permission
		scope iam.Scope
		want  bool
	}{{"fire.apparatus.dispatch", "dept:fire", true}, {"transit.route.detour", "org", true}, {"finance.po.approve", "dept:finance", false}} {
		d, err := a.Check(ctx, "user:eve", x.perm, x.scope)
		if err != nil || d.Allowed != x.want {
			t.Errorf("Check %s = %v, %v; want %v", x.perm, d.Allowed, err, x.want)
		}
		c.Add(time.Minute)
	}
	// The window ends by itself: the check alone denies.
	c.Set(noon.Add(2 * time.Hour))
	if d, _ := a.Check(ctx, "user:eve", "fire.apparatus.dispatch", "dept:fire"); d.Allowed {
		t.Error("emergency access outlived its window")
	}
	rep, err := iam.NewReaper(iam.AdminOf(a), time.Hour).Reap(ctx)
	if err != nil || len(rep.Expired) != 1 {
		t.Fatalf("reap = %+v, %v", rep, err)
	}
	ended := eventsOf(rec, iam.EventEmergencyEnded)
	if len(ended) != 1 || ended[0].Detail["how"] != "window_elapsed" {
		t.Errorf("emergency.ended = %+v", ended)
	}

	rv := reports.EmergencyReview(append(rec.Events(), rec.Events()...), act) // duplicates are dropped
	if len(rv.Actions) != 3 || rv.How != "window_elapsed" || !rv.Ended.Equal(act.Until) {
		t.Fatalf("review = %+v", rv)
	}
	if a := rv.Actions[0]; a.Permission != "fire.apparatus.dispatch" || !a.Allowed || !strings.Contains(a.Path, "grant eoc at org") {
		t.Errorf("first action = %+v", a)
	}
	if rv.Actions[2].Allowed {
		t.Errorf("denied attempt shown as allowed: %+v", rv.Actions[2])
	}
	var buf bytes.Buffer
	if err := rv.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if rows = tableRows(rows); err != nil || len(rows) != 4 || rows[1][5] != "fire.apparatus.dispatch" {
		t.Errorf("csv = %q, %v", rows, err)
	}
	buf.Reset()
	if err := rv.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		V       int    `json:"v"`
		Kind    string `json:"kind"`
		Actions []struct {
			Permission string `json:"permission"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc.V != 1 || doc.Kind != "emergency.review" || len(doc.Actions) != 3 {
		t.Errorf("json = %s (%v)", buf.String(), err)
	}

	// A second activation replaces nothing left behind and can end early.
	c.Add(time.Hour)
	act2, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:eve", "eoc", "org", 6*time.Hour, "aftershock")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(30 * time.Minute)
	if _, err := a.Check(ctx, "user:eve", "transit.route.detour", "org"); err != nil {
		t.Fatal(err)
	}
	c.Add(30 * time.Minute)
	if _, err := iam.AdminOf(a).EndEmergency(ctx, "user:eve", "eoc", "org", "situation contained"); err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Check(ctx, "user:eve", "transit.route.detour", "org"); d.Allowed {
		t.Error("access survived EndEmergency")
	}
	rv2 := reports.EmergencyReview(rec.Events(), act2)
	if rv2.How != "early" || !rv2.Ended.Equal(c.Now()) || len(rv2.Actions) != 1 {
		t.Errorf("second review = %+v", rv2)
	}
	if _, err := iam.AdminOf(a).EndEmergency(ctx, "user:eve", "eoc", "org", "again"); !errors.Is(err, iam.ErrNotFound) {
		t.Errorf("ending twice: %v, want ErrNotFound", err)
	}
}

func TestEmergencyReplacesAnEndedActivation(t *testing.T) {
	t.Parallel()
	c := newLCClock(noon)
	a, _ := newLifecycle(t, sodCity(), c)
	ctx := context.Background()
	if _, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:eve", "eoc", "org", time.Hour, "drill"); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Hour) // ended, not reaped
	if _, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:eve", "eoc", "org", time.Hour, "real"); err != nil {
		t.Fatalf("reactivation after the window: %v", err)
	}
	// While one is in force, a second is refused: the grant exists.
	if _, err := iam.AdminOf(a).ActivateEmergency(ctx, "user:eve", "eoc", "org", time.Hour, "again"); !errors.Is(err, iam.ErrExists) || errors.Is(err, iam.ErrInvalidInput) {
		t.Errorf("overlapping activation: %v", err)
	}
}
