package instant

import (
	"math"
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	noon := time.Date(2026, 6, 1, 12, 0, 0, 5, time.UTC)
	for _, c := range []struct {
		t    time.Time
		want int64
	}{
		{noon, noon.UnixNano()},
		{Earliest(), 0},
		{Earliest().Add(-time.Nanosecond), 0},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), 0},
		{Earliest().Add(time.Nanosecond), 1},
		{Latest(), Max},
		{Latest().Add(-time.Nanosecond), Max - 1},
		{Latest().Add(time.Hour), Max},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Max},
	} {
		if got := Of(c.t); got != c.want {
			t.Errorf("Of(%s) = %d, want %d", c.t, got, c.want)
		}
	}
	if Max >= math.MaxInt64 {
		t.Fatal("Max must stay below MaxInt64, which stands for no end")
	}
	if !Time(Of(noon)).Equal(noon) {
		t.Errorf("Time(Of(noon)) = %s", Time(Of(noon)))
	}
	if InRange(Earliest()) || InRange(Latest()) || !InRange(noon) {
		t.Error("InRange is strict at both ends")
	}
}
