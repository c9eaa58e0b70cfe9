package onboard_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/session/onboard"
)

// TestConcurrentOnboarding feeds the same record to two Services over the
// same stores (two processes) from several goroutines at once: one
// joiner, one grant, one welcome; every other call finds it done.
func TestConcurrentOnboarding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	other, err := onboard.New(h.users, h.store, h.admin, onboard.WithMailer(h.mail), onboard.WithSSO("https://login.lakeview.ca/"),
		onboard.WithClock(h.now), onboard.WithLocation(time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	rec := bylawOfficer()
	var wg sync.WaitGroup
	kinds := make(chan onboard.Kind, 16)
	for i := range 16 {
		svc := h.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := svc.Onboard(ctx, rec)
			if err != nil {
				t.Errorf("Onboard: %v", err)
				return
			}
			kinds <- res.Kind
		}()
	}
	wg.Wait()
	close(kinds)
	n := map[onboard.Kind]int{}
	for k := range kinds {
		n[k]++
	}
	if n[onboard.Joiner] != 1 {
		t.Errorf("kinds = %v, want one joiner", n)
	}
	if gs := h.grantsOf(t, "user:e1042"); len(gs) != 1 {
		t.Errorf("grants = %v", gs)
	}
	if len(h.mail.sent()) != 1 {
		t.Errorf("%d welcome messages", len(h.mail.sent()))
	}
	if u, err := h.users.User(ctx, "e1042"); err != nil || u.Status != "active" {
		t.Errorf("user = %+v %v", u, err)
	}
}
