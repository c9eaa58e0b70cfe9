package signintest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/signin/signintest"
)

// Example shows the two helpers a test of a sign-in flow hands to
// signin.New (signin.WithClock(clock.Now), signin.WithEvents(events)): a
// clock the test moves past a lockout window, and a recorder it counts
// events in by type and reason.
func Example() {
	ctx := context.Background()
	clock := signintest.NewClock(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	events := &signintest.Recorder{}

	for range 3 {
		_ = events.Record(ctx, signin.Event{Type: "login.failed", Subject: "user:jtremblay",
			Time: clock.Now(), Detail: map[string]string{"reason": "bad_password"}})
		clock.Advance(time.Minute)
	}
	_ = events.Record(ctx, signin.Event{Type: "account.locked", Subject: "user:jtremblay", Time: clock.Now()})
	clock.Advance(15 * time.Minute)

	fmt.Println("failed for a bad password:", events.Count("login.failed", "bad_password"))
	fmt.Println("locked:", events.Count("account.locked", ""))
	fmt.Println("clock:", clock.Now().Format(time.RFC3339))
	// Output:
	// failed for a bad password: 3
	// locked: 1
	// clock: 2026-11-26T09:18:00Z
}
