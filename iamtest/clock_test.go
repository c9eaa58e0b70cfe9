package iamtest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/iamtest"
)

var noon = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func TestClockFixed(t *testing.T) {
	t.Parallel()
	now := iamtest.Clock(noon)
	if got := now(); !got.Equal(noon) {
		t.Fatalf("Clock(noon)() = %v", got)
	}
}

func TestManualClock(t *testing.T) {
	t.Parallel()
	c := iamtest.NewClock(noon)
	if got := c.Now(); !got.Equal(noon) {
		t.Fatalf("Now = %v, want %v", got, noon)
	}
	if got := c.Advance(90 * time.Minute); !got.Equal(noon.Add(90 * time.Minute)) {
		t.Fatalf("Advance returned %v", got)
	}
	if got := c.Now(); !got.Equal(noon.Add(90 * time.Minute)) {
		t.Fatalf("Now after Advance = %v", got)
	}
	c.Advance(-2 * time.Hour)
	if got := c.Now(); !got.Equal(noon.Add(-30 * time.Minute)) {
		t.Fatalf("Now after a negative Advance = %v", got)
	}
	c.Set(noon.Add(-24 * time.Hour))
	if got := c.Now(); !got.Equal(noon.Add(-24 * time.Hour)) {
		t.Fatalf("Now after Set = %v", got)
	}
}

// TestManualClockConcurrent advances the clock from several goroutines
// while others read it; the race detector and the final sum hold it to
// being safe for concurrent use.
func TestManualClockConcurrent(t *testing.T) {
	t.Parallel()
	c := iamtest.NewClock(noon)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 100 {
				c.Advance(time.Second)
			}
		}()
		go func() {
			defer wg.Done()
			last := noon
			for range 100 {
				now := c.Now()
				if now.Before(last) {
					t.Errorf("clock went backwards: %v after %v", now, last)
					return
				}
				last = now
			}
		}()
	}
	wg.Wait()
	if got, want := c.Now(), noon.Add(800*time.Second); !got.Equal(want) {
		t.Fatalf("after 800 one-second advances Now = %v, want %v", got, want)
	}
}
