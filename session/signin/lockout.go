package signin

import (
	"context"
	"fmt"
	"time"
)

// Lockout is the brute-force policy. The zero value uses the defaults on
// each field.
//
// Every attempt first reserves a slot on its client's counter and then on
// its account's counter, each by compare-and-set, before any password is
// verified: a counter that already holds Limit reservations refuses. So
// no interleaving of parallel attempts gets more than Limit verifications
// through on one key in one window. A failed verification keeps its
// reservation; a success releases the client's and clears the account's.
// The failure that fills a counter (an account's, a device's or a
// client's) locks it for BaseDelay, doubling with each consecutive lock
// up to MaxDelay; the lock ends by itself ([Service.Unlock] ends an
// account's early).
//
// Against a denial of service on a known account: the client limit is
// lower than the account limit, so one client cannot lock an account;
// a lock lasts minutes, not until an administrator acts; and a browser
// that presents a device token from an earlier successful sign-in for the
// same account ([Result.DeviceToken]) counts on a counter of its own
// instead of the account's, so its owner signs in while the account is
// under attack from elsewhere.
type Lockout struct {
	// ClientLimit is how many failures one client may make in a window;
	// 0 means 5, or one less than AccountLimit when that is 5 or lower.
	// Keep it below AccountLimit: otherwise one client can lock an account.
	ClientLimit int
	// AccountLimit is how many failures an account (or a device) may
	// take in a window before it locks; 0 means 10.
	AccountLimit int
	// Window is how long failures are remembered; 0 means 15 minutes.
	Window time.Duration
	// BaseDelay is the first lock's length; 0 means 1 minute.
	BaseDelay time.Duration
	// MaxDelay caps a lock's length; 0 means 1 hour.
	MaxDelay time.Duration
}

func (l Lockout) withDefaults() Lockout {
	if l.AccountLimit <= 0 {
		l.AccountLimit = 10
	}
	if l.ClientLimit <= 0 {
		// Below the account limit, so that one client alone cannot lock
		// the account (an account limit of 1 leaves no room: 1).
		l.ClientLimit = max(1, min(5, l.AccountLimit-1))
	}
	if l.Window <= 0 {
		l.Window = 15 * time.Minute
	}
	if l.BaseDelay <= 0 {
		l.BaseDelay = time.Minute
	}
	if l.MaxDelay <= 0 {
		l.MaxDelay = time.Hour
	}
	return l
}

func (l Lockout) delay(level int) time.Duration {
	d := l.BaseDelay
	for i := 0; i < level && d < l.MaxDelay; i++ {
		d *= 2
	}
	return min(d, l.MaxDelay)
}

// LockedError reports a refused attempt. errors.Is(err, ErrLocked) is
// true for it. It says which counter refused and until when, nothing
// about whether the account exists.
type LockedError struct {
	// Scope is "client" or "account".
	Scope string
	// Until is when an attempt may be made again.
	Until time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("signin: too many attempts (%s); try again after %s", e.Scope, e.Until.UTC().Format(time.RFC3339))
}

// Is reports whether target is ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Counter key prefixes.
const (
	clientKey  = "client:"
	accountKey = "login:"
	deviceKey  = "device:"
)

const maxCASTries = 1000

// update applies f to the counter at key by compare-and-set until it
// sticks. f returns the new state and whether to write it.
func update(ctx context.Context, s Counters, key string, f func(c Counter) (Counter, bool)) (Counter, error) {
	for range maxCASTries {
		c, v, err := s.LoadCounter(ctx, key)
		if err != nil {
			return Counter{}, err
		}
		next, write := f(c)
		if !write {
			return c, nil
		}
		ok, err := s.SaveCounter(ctx, key, next, v)
		if err != nil {
			return Counter{}, err
		}
		if ok {
			return next, nil
		}
		if err := ctx.Err(); err != nil {
			return Counter{}, err
		}
	}
	return Counter{}, fmt.Errorf("signin: counter %s: too much contention", key)
}

// reserve takes one slot on key's counter, or refuses with a LockedError.
func (l Lockout) reserve(ctx context.Context, s Counters, key, scope string, limit int, now time.Time) error {
	var refused *LockedError
	_, err := update(ctx, s, key, func(c Counter) (Counter, bool) {
		refused = nil
		if now.Before(c.LockedUntil) {
			refused = &LockedError{Scope: scope, Until: c.LockedUntil}
			return c, false
		}
		if !c.LockedUntil.IsZero() { // a lock that has run out
			if now.Sub(c.LockedUntil) > l.Window {
				c.Level = 0 // a quiet window after the lock: start over
			}
			c.LockedUntil = time.Time{}
			c.Failures, c.WindowStart = 0, now
		}
		if now.Sub(c.WindowStart) >= l.Window {
			// A whole quiet window forgives: failures and the lock level
			// start over (what PruneCounters does by deleting the row).
			c.Failures, c.WindowStart, c.Level = 0, now, 0
		}
		if c.Failures >= limit {
			refused = &LockedError{Scope: scope, Until: c.WindowStart.Add(l.Window)}
			return c, false
		}
		c.Failures++
		return c, true
	})
	if err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	return nil
}

// fail records that the attempt holding a slot on key failed: when the
// counter is full it locks. It reports whether this call locked.
func (l Lockout) fail(ctx context.Context, s Counters, key string, limit int, now time.Time) (bool, time.Time, error) {
	var locked bool
	c, err := update(ctx, s, key, func(c Counter) (Counter, bool) {
		locked = false
		if c.Failures < limit || !c.LockedUntil.IsZero() {
			return c, false
		}
		c.LockedUntil = now.Add(l.delay(c.Level))
		c.Level++
		locked = true
		return c, true
	})
	return locked, c.LockedUntil, err
}

// release gives back a slot that did not end in a failure.
func release(ctx context.Context, s Counters, key string) error {
	_, err := update(ctx, s, key, func(c Counter) (Counter, bool) {
		if c.Failures == 0 {
			return c, false
		}
		c.Failures--
		return c, true
	})
	return err
}

// clear resets an account's counter after a successful sign-in.
func clearCounter(ctx context.Context, s Counters, key string) error {
	_, err := update(ctx, s, key, func(c Counter) (Counter, bool) {
		if c == (Counter{}) {
			return c, false
		}
		return Counter{}, true
	})
	return err
}
