package apikey

import (
	"context"
	"time"
)

// Last use is recorded in memory, one atomic store per accepted
// verification, and written to the store in batches by one goroutine
// every flush interval (WithFlushInterval, default one minute) and on
// Close: a key used a million times a day costs one write per interval
// per process. The stored LastUsed therefore trails the true last use by
// at most the flush interval (plus the time a failed flush waits for the
// next); a process that crashes loses at most one interval of it.

func (m *Manager) flusher(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(m.o.flush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, m.o.flush)
			if err := m.Flush(fctx); err != nil {
				m.o.logger.Warn("apikey: last-use flush failed; retried next interval", "err", err)
			}
			cancel()
		}
	}
}

// Flush writes the last uses recorded since the previous flush to the
// store in one batch. The flusher calls it every interval and Close calls
// it once more; a caller may too (a test, or before a report).
func (m *Manager) Flush(ctx context.Context) error {
	batch := map[string]time.Time{}
	type mark struct {
		e *entry
		u int64
	}
	var marks []mark
	m.pendMu.Lock()
	for id, u := range m.pending {
		batch[id] = time.Unix(0, u)
	}
	clear(m.pending)
	m.pendMu.Unlock()
	for _, id := range m.cache.Keys() {
		e, ok := m.cache.Peek(id)
		if !ok {
			continue
		}
		if u := e.lastUsed.Load(); u > e.flushed.Load() {
			if t, ok := batch[id]; !ok || t.UnixNano() < u {
				batch[id] = time.Unix(0, u)
			}
			marks = append(marks, mark{e, u})
		}
	}
	if len(batch) == 0 {
		return nil
	}
	if err := m.store.TouchKeys(ctx, batch); err != nil {
		// Keep them for the next flush.
		m.pendMu.Lock()
		for id, t := range batch {
			m.pending[id] = max(m.pending[id], t.UnixNano())
		}
		m.pendMu.Unlock()
		return err
	}
	for _, mk := range marks {
		for {
			f := mk.e.flushed.Load()
			if f >= mk.u || mk.e.flushed.CompareAndSwap(f, mk.u) {
				break
			}
		}
	}
	return nil
}
