package iam

import (
	"context"
	"fmt"
	"io"

	"github.com/civic-platform/security/masking"
)

// MaskOptions configures the masks of a [Masker]; see [masking.Options].
// The zero MaskOptions means the built-in masks only.
type MaskOptions = masking.Options

// A Masker hides the fields of records that a subject may not see, using the
// Authorizer's decisions: a field tagged iam:"crm.citizen.sin.view" is shown
// only to a subject that holds crm.citizen.sin.view at the scope given, and
// masked (mask:"sin" → "***-***-***") for everyone else. See package masking
// for the tags.
//
// Every unmasked view of a personal-information field is recorded as an
// [EventPIIViewed] event through the Authorizer's [AuditSink], with the
// permission, the field path, the record key and the scope in its Detail.
// Events are emitted after the value has been masked successfully, one per
// field shown, in field order.
//
// Create one Masker per Authorizer with [Authorizer.Masker] and share it: it
// caches one reflection plan per type. A Masker is safe for concurrent use;
// the value being masked is not (see [masking.Engine]).
type Masker struct {
	a *Authorizer
	e *masking.Engine
}

// Masker returns a [Masker] that decides with a and masks with the masks in
// opts. It fails, with an error wrapping [masking.ErrInvalidOptions], on an
// invalid custom mask.
func (a *Authorizer) Masker(opts MaskOptions) (*Masker, error) {
	e, err := masking.New(opts)
	if err != nil {
		return nil, fmt.Errorf("iam: masker: %w", err)
	}
	return &Masker{a: a, e: e}, nil
}

// Prepare builds the masking plan for the type of v without masking
// anything, and returns any error in its struct tags (wrapping
// [masking.ErrInvalidTag]). Call it at start-up for each type a service
// masks.
func (m *Masker) Prepare(v any) error {
	if err := m.e.Prepare(v); err != nil {
		return fmt.Errorf("iam: masker: %w", err)
	}
	return nil
}

// maskCall is the state of one masking call: who is looking, where, and the
// fields shown so far, recorded once the call succeeds.
type maskCall struct {
	m     *Masker
	ctx   context.Context
	sub   Subject
	scope Scope
	revs  []permRevision
	views []masking.View
}

type permRevision struct {
	perm     string
	revision int64
}

func (m *Masker) start(ctx context.Context, op string, sub Subject, scope Scope) (*maskCall, error) {
	if _, err := m.a.load(); err != nil {
		return nil, err
	}
	if err := sub.Validate(); err != nil {
		return nil, fmt.Errorf("iam: %s: %w", op, err)
	}
	if err := scope.Validate(); err != nil {
		return nil, fmt.Errorf("iam: %s: %w", op, err)
	}
	return &maskCall{m: m, ctx: ctx, sub: sub, scope: scope}, nil
}

// may reports whether the subject holds perm at the scope now. Any error is
// a deny, so the field stays masked.
func (c *maskCall) may(perm string) bool {
	d, err := c.m.a.Check(c.ctx, c.sub, Permission(perm), c.scope)
	if err != nil {
		return false
	}
	c.revs = append(c.revs, permRevision{perm, d.Revision})
	return d.Allowed
}

func (c *maskCall) viewed(v masking.View) { c.views = append(c.views, v) }

// record emits one pii.viewed event per field shown.
func (c *maskCall) record() {
	for _, v := range c.views {
		var rev int64
		for _, pr := range c.revs {
			if pr.perm == v.Permission {
				rev = pr.revision
				break
			}
		}
		c.m.a.emit(c.ctx, Event{
			Type:     EventPIIViewed,
			Time:     c.m.a.opts.clock(),
			Subject:  c.sub,
			Revision: rev,
			Detail: map[string]string{
				"permission": v.Permission,
				"field":      v.Field,
				"key":        v.Key,
				"scope":      string(c.scope),
			},
		})
	}
}

// Mask masks v in place for sub looking at scope. v must be a non-nil
// pointer (anything else is an error wrapping [masking.ErrInvalidValue]).
// A field is left as it is only if sub holds its permission at scope now;
// a check that fails (for example on a closed Authorizer) masks the field.
//
// On error v may be partly masked and must not be used, and no event is
// recorded. Malformed sub or scope wrap [ErrInvalidInput]; a closed
// Authorizer returns [ErrClosed].
func (m *Masker) Mask(ctx context.Context, sub Subject, scope Scope, v any) error {
	c, err := m.start(ctx, "mask", sub, scope)
	if err != nil {
		return err
	}
	if err := m.e.Mask(v, c.may, c.viewed); err != nil {
		return fmt.Errorf("iam: mask: %w", err)
	}
	c.record()
	return nil
}

// MaskCopy returns a masked deep copy of v, of the same type, and leaves v
// untouched. It decides and records like [Masker.Mask]. See [Masked] for the
// typed form.
func (m *Masker) MaskCopy(ctx context.Context, sub Subject, scope Scope, v any) (any, error) {
	c, err := m.start(ctx, "mask copy", sub, scope)
	if err != nil {
		return nil, err
	}
	out, err := m.e.MaskCopy(v, c.may, c.viewed)
	if err != nil {
		return nil, fmt.Errorf("iam: mask copy: %w", err)
	}
	c.record()
	return out, nil
}

// Masked is the typed form of [Masker.MaskCopy]: it returns a masked deep
// copy of v for sub looking at scope, and leaves v untouched. On error it
// returns the zero T.
//
//	view, err := iam.Masked(ctx, masker, sub, "org", citizen)
func Masked[T any](ctx context.Context, m *Masker, sub Subject, scope Scope, v T) (T, error) {
	var zero T
	c, err := m.start(ctx, "mask copy", sub, scope)
	if err != nil {
		return zero, err
	}
	out, err := masking.Copy(m.e, v, c.may, c.viewed)
	if err != nil {
		return zero, fmt.Errorf("iam: mask copy: %w", err)
	}
	c.record()
	return out, nil
}

// Marshal returns the JSON encoding of a masked copy of v for sub looking
// at scope, leaving v untouched. It decides and records like [Masker.Mask].
func (m *Masker) Marshal(ctx context.Context, sub Subject, scope Scope, v any) ([]byte, error) {
	c, err := m.start(ctx, "marshal", sub, scope)
	if err != nil {
		return nil, err
	}
	b, err := m.e.Marshal(v, c.may, c.viewed)
	if err != nil {
		return nil, fmt.Errorf("iam: marshal: %w", err)
	}
	c.record()
	return b, nil
}

// WriteJSON writes the JSON encoding of a masked copy of v, followed by a
// newline, to w: the body of an HTTP response, for example. Nothing is
// written if masking fails. The fields shown are recorded before the write,
// since a failed write may still have delivered them.
func (m *Masker) WriteJSON(ctx context.Context, w io.Writer, sub Subject, scope Scope, v any) error {
	b, err := m.Marshal(ctx, sub, scope, v)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("iam: write JSON: %w", err)
	}
	return nil
}

// defaultMasker returns the Masker with the built-in masks that
// [Authorizer.Mask] and [Authorizer.MaskCopy] use, creating it once.
func (a *Authorizer) defaultMasker() (*Masker, error) {
	a.maskOnce.Do(func() { a.masker, a.maskErr = a.Masker(MaskOptions{}) })
	return a.masker, a.maskErr
}

// Mask masks v in place for sub at scope with the built-in masks: the
// shorthand for a [Masker] made with zero [MaskOptions] (see
// [Masker.Mask]). v must be a non-nil pointer. Use [Authorizer.Masker] for
// custom masks.
func (a *Authorizer) Mask(ctx context.Context, sub Subject, scope Scope, v any) error {
	m, err := a.defaultMasker()
	if err != nil {
		return err
	}
	return m.Mask(ctx, sub, scope, v)
}

// MaskCopy returns a masked deep copy of v for sub at scope, leaving v as it
// was (see [Masker.MaskCopy]).
func (a *Authorizer) MaskCopy(ctx context.Context, sub Subject, scope Scope, v any) (any, error) {
	m, err := a.defaultMasker()
	if err != nil {
		return nil, err
	}
	return m.MaskCopy(ctx, sub, scope, v)
}
