package instant

import (
	"math"
	"time"
)

// Max is the largest instant Of returns: one nanosecond before
// math.MaxInt64, which stands for "no end".
const Max = math.MaxInt64 - 1

// Earliest returns the instant every grant window lies strictly after:
// the Unix epoch, which stores keep as "no start".
func Earliest() time.Time { return time.Unix(0, 0).UTC() }

// Latest returns the instant every grant window lies strictly before, in
// the year 2262.
func Latest() time.Time { return time.Unix(0, Max).UTC() }

// InRange reports whether t lies strictly between Earliest and Latest, the
// instants a grant window may name.
func InRange(t time.Time) bool { return t.After(Earliest()) && t.Before(Latest()) }

// latestSec is a second safely before Latest.
const latestSec = Max/int64(time.Second) - 1

// Of converts t to Unix nanoseconds, clamped to [0, Max].
func Of(t time.Time) int64 {
	if sec := t.Unix(); sec > 0 && sec < latestSec { // the common case, cheaply
		return t.UnixNano()
	}
	switch {
	case t.Unix() < 0:
		return 0
	case !t.Before(Latest()):
		return Max
	}
	return t.UnixNano()
}

// Time converts an instant back to a time.Time in UTC.
func Time(n int64) time.Time { return time.Unix(0, n).UTC() }
