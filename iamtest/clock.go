package iamtest

import (
	"sync"
	"time"
)

// Clock returns a clock fixed at t, for [iam.WithClock]. Use [NewClock]
// for a clock the test moves.
func Clock(t time.Time) func() time.Time { return func() time.Time { return t } }

// ManualClock is a clock that moves only when the test moves it, with
// [ManualClock.Advance] or [ManualClock.Set]. Pass its Now method to
// [iam.WithClock] (and to any other component under test that takes a
// clock), so that grant windows, emergency caps and staleness bounds
// end exactly when the test says. It is safe for concurrent use: a test
// may advance it while requests read it.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t0.
func NewClock(t0 time.Time) *ManualClock { return &ManualClock{t: t0} }

// Now returns the clock's time. It has the signature [iam.WithClock]
// takes: iam.WithClock(clock.Now).
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (backward if d is negative) and
// returns the new time.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Set moves the clock to t, forward or backward.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
