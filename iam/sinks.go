package iam

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
)

// SlogSink returns an [AuditSink] that writes each event as one log record
// at level Info (Warn for role.assignment_blocked and decision.emergency),
// with the event's fields as attributes and its detail as a group. It
// never fails. Useful in development and as a second sink next to a
// durable one; it is not a store of record.
func SlogSink(l *slog.Logger) AuditSink {
	if l == nil {
		l = slog.Default()
	}
	return AuditFunc(func(ctx context.Context, e Event) error {
		level := slog.LevelInfo
		if e.Type == EventRoleAssignmentBlocked || e.Type == EventEmergency {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{
			slog.String("id", e.ID),
			slog.Int("v", e.Version),
			slog.Time("time", e.Time),
		}
		if e.Actor != "" {
			attrs = append(attrs, slog.String("actor", string(e.Actor)))
		}
		if e.Subject != "" {
			attrs = append(attrs, slog.String("subject", string(e.Subject)))
		}
		if e.Revision != 0 {
			attrs = append(attrs, slog.Int64("revision", e.Revision))
		}
		if len(e.Detail) > 0 {
			d := make([]any, 0, len(e.Detail))
			for _, k := range slices.Sorted(maps.Keys(e.Detail)) {
				d = append(d, slog.String(k, e.Detail[k]))
			}
			attrs = append(attrs, slog.Group("detail", d...))
		}
		l.LogAttrs(context.WithoutCancel(ctx), level, e.Type, attrs...)
		return nil
	})
}

// Tee returns an [AuditSink] that records each event in every sink, in
// order, and joins their errors.
func Tee(sinks ...AuditSink) AuditSink {
	return AuditFunc(func(ctx context.Context, e Event) error {
		var errs []error
		for _, s := range sinks {
			if err := s.Record(ctx, e); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}
