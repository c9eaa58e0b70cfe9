package iam

import (
	"encoding/json"
	"time"
)

// healthJSON is the JSON form of [Health]: the keys of Health's field
// tags, durations in seconds and errors as their messages.
type healthJSON struct {
	Revision         int64            `json:"revision"`
	Behind           float64          `json:"behind_seconds"`
	PollInterval     float64          `json:"poll_interval_seconds"`
	RevisionSource   bool             `json:"revision_source"`
	LastConfirmed    *time.Time       `json:"last_confirmed,omitempty"`
	MaxStaleness     float64          `json:"max_staleness_seconds"`
	Stale            bool             `json:"stale"`
	LastError        string           `json:"last_error,omitempty"`
	LastErrorAt      *time.Time       `json:"last_error_at,omitempty"`
	Watcher          WatcherState     `json:"watcher"`
	Fallback         bool             `json:"fallback"`
	FallbackMismatch string           `json:"fallback_mismatch,omitempty"`
	FallbackError    string           `json:"fallback_error,omitempty"`
	Quarantined      []quarantineJSON `json:"quarantined,omitempty"`
}

// quarantineJSON is the JSON form of a [QuarantinedRow].
type quarantineJSON struct {
	ID     int64     `json:"id"`
	PType  string    `json:"ptype"`
	Values []string  `json:"values"`
	Reason string    `json:"reason"`
	Blocks []Subject `json:"blocks,omitempty"`
}

// MarshalJSON writes h with lower-case snake_case keys: times in RFC 3339
// (UTC), durations as seconds, errors as their messages; zero times and
// nil errors are left out.
func (h Health) MarshalJSON() ([]byte, error) {
	j := healthJSON{
		Revision:         h.Revision,
		Behind:           h.Behind.Seconds(),
		PollInterval:     h.PollInterval.Seconds(),
		RevisionSource:   h.RevisionSource,
		LastConfirmed:    jsonTime(h.LastConfirmed),
		MaxStaleness:     h.MaxStaleness.Seconds(),
		Stale:            h.Stale,
		LastError:        errText(h.LastError),
		LastErrorAt:      jsonTime(h.LastErrorAt),
		Watcher:          h.Watcher,
		Fallback:         h.Fallback,
		FallbackMismatch: errText(h.FallbackMismatch),
		FallbackError:    errText(h.FallbackError),
	}
	for _, q := range h.Quarantined {
		j.Quarantined = append(j.Quarantined, quarantineJSON{ID: q.ID, PType: q.PType, Values: q.Values, Reason: q.Reason, Blocks: q.Blocks})
	}
	return json.Marshal(j)
}

func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
