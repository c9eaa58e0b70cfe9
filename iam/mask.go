package iam

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/masking"
	"github.com/civic-platform/security/rbac"
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
	a       *Authorizer
	e       *masking.Engine
	opts    MaskOptions
	tagged  abac.Tagged // reads records for a RecordMasker
	records sync.Map    // *Scoper → *RecordMasker, for the *Records methods
}

// Masker returns a [Masker] that decides with a and masks with the masks in
// opts. It fails, with an error wrapping [masking.ErrInvalidOptions], on an
// invalid custom mask.
func (a *Authorizer) Masker(opts MaskOptions) (*Masker, error) {
	e, err := masking.New(opts)
	if err != nil {
		return nil, fmt.Errorf("iam: masker: %w", err)
	}
	return &Masker{a: a, e: e, opts: opts}, nil
}

// forRecords returns the RecordMasker this Masker uses with sc, made on
// first use with the same masks.
func (m *Masker) forRecords(sc *Scoper) (*RecordMasker, error) {
	if sc == nil {
		return nil, fmt.Errorf("iam: mask records: %w", &rbac.InvalidError{Kind: "scoper", Value: "nil", Reason: "create one with NewScoper"})
	}
	if r, ok := m.records.Load(sc); ok {
		return r.(*RecordMasker), nil
	}
	r, err := NewRecordMasker(m.a, sc, m.opts)
	if err != nil {
		return nil, err
	}
	actual, _ := m.records.LoadOrStore(sc, r)
	return actual.(*RecordMasker), nil
}

// MaskRecords masks v in place for sub, deciding each field for the record
// it belongs to with sc, as [RecordMasker.Mask] does.
func (m *Masker) MaskRecords(ctx context.Context, sub Subject, sc *Scoper, v any) error {
	r, err := m.forRecords(sc)
	if err != nil {
		return err
	}
	return r.Mask(ctx, sub, v)
}

// MaskCopyRecords returns a masked deep copy of v for sub, deciding each
// field for its record with sc, as [RecordMasker.MaskCopy] does.
func (m *Masker) MaskCopyRecords(ctx context.Context, sub Subject, sc *Scoper, v any) (any, error) {
	r, err := m.forRecords(sc)
	if err != nil {
		return nil, err
	}
	return r.MaskCopy(ctx, sub, v)
}

// MarshalRecords returns the JSON encoding of a masked copy of v for sub,
// deciding each field for its record with sc, as [RecordMasker.Marshal]
// does.
func (m *Masker) MarshalRecords(ctx context.Context, sub Subject, sc *Scoper, v any) ([]byte, error) {
	r, err := m.forRecords(sc)
	if err != nil {
		return nil, err
	}
	return r.Marshal(ctx, sub, v)
}

// WriteJSONRecords writes what [Masker.MarshalRecords] returns, followed by
// a newline, to w. Nothing is written if masking fails.
func (m *Masker) WriteJSONRecords(ctx context.Context, w io.Writer, sub Subject, sc *Scoper, v any) error {
	r, err := m.forRecords(sc)
	if err != nil {
		return err
	}
	return r.WriteJSON(ctx, w, sub, v)
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
	scope Scope   // the scope every field is decided at; "" with a Scoper
	sc    *Scoper // decides each field for its record, when set
	revs  []permRevision
	views []masking.View
	why   []string // per view with a Scoper: the reason the record's field was shown
}

type permRevision struct {
	perm     string
	revision int64
	reason   string // with a Scoper: why the last record asked about was allowed
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

// startRecords begins a call that decides each field for its record.
func (m *Masker) startRecords(ctx context.Context, op string, sub Subject, sc *Scoper) (*maskCall, error) {
	if _, err := m.a.load(); err != nil {
		return nil, err
	}
	if err := sub.Validate(); err != nil {
		return nil, fmt.Errorf("iam: %s: %w", op, err)
	}
	return &maskCall{m: m, ctx: ctx, sub: sub, sc: sc}, nil
}

// record returns rec, a record value the masking Engine passed, as an
// abac.Record: its own Field method if it has one, else its abac tags. nil
// is a record with no fields. false means it cannot be read.
func (m *Masker) record(rec any) (abac.Record, bool) {
	switch v := rec.(type) {
	case nil:
		return abac.Map(nil), true
	case abac.Record:
		return v, true
	}
	rv := reflect.ValueOf(rec)
	if rv.Kind() == reflect.Struct && reflect.PointerTo(rv.Type()).Implements(recordIface) {
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		return p.Interface().(abac.Record), true
	}
	r, err := m.tagged.Record(rec)
	return r, err == nil
}

var recordIface = reflect.TypeFor[abac.Record]()

// recordTypes returns the record test for a Scoper: a struct type is a
// record if it implements [abac.Record] or has an exported field whose abac
// tag names one of the Scoper's scope fields, as [Authorizer.CheckRecord]
// reads them.
func recordTypes(sc *Scoper) func(reflect.Type) bool {
	var names []string
	for _, f := range sc.fields {
		if f != "" { // "" : the records have no field for this scope kind
			names = append(names, f)
		}
	}
	return func(t reflect.Type) bool {
		if t.Implements(recordIface) || reflect.PointerTo(t).Implements(recordIface) {
			return true
		}
		for _, f := range reflect.VisibleFields(t) {
			if name, ok := f.Tag.Lookup("abac"); ok && f.IsExported() && slices.Contains(names, name) {
				return true
			}
		}
		return false
	}
}

// may reports whether the subject holds perm at the scope now. Any error is
// a deny, so the field stays masked.
func (c *maskCall) may(perm string) bool {
	d, err := c.m.a.Check(c.ctx, c.sub, Permission(perm), c.scope)
	if err != nil {
		return false
	}
	c.revs = append(c.revs, permRevision{perm: perm, revision: d.Revision})
	return d.Allowed
}

func (c *maskCall) viewed(v masking.View) {
	c.views = append(c.views, v)
	if c.sc != nil {
		reason := ""
		for i := len(c.revs) - 1; i >= 0; i-- {
			if c.revs[i].perm == v.Permission {
				reason = c.revs[i].reason
				break
			}
		}
		c.why = append(c.why, reason)
	}
}

// mayRecord reports whether the subject holds perm for rec now, as
// [Authorizer.CheckRecord] decides it: rec is the record the field belongs
// to, read through its abac tags or its own [abac.Record] method; nil (a
// field in no record) is a record with no fields. Any error is a deny.
func (c *maskCall) mayRecord(perm string, rec any) bool {
	r, ok := c.m.record(rec)
	if !ok {
		return false
	}
	d, err := c.m.a.CheckRecord(c.ctx, c.sub, Permission(perm), c.sc, r)
	if err != nil {
		return false
	}
	c.revs = append(c.revs, permRevision{perm, d.Revision, d.Reason})
	return d.Allowed
}

// record emits one pii.viewed event per field shown.
func (c *maskCall) record() {
	for i, v := range c.views {
		var rev int64
		for _, pr := range c.revs {
			if pr.perm == v.Permission {
				rev = pr.revision
				break
			}
		}
		detail := map[string]string{
			"permission": v.Permission,
			"field":      v.Field,
			"key":        v.Key,
		}
		if c.sc == nil {
			detail["scope"] = string(c.scope)
		} else {
			detail["reason"] = c.why[i]
		}
		c.m.a.emit(c.ctx, Event{
			Type:     EventPIIViewed,
			Time:     c.m.a.opts.clock(),
			Subject:  c.sub,
			Revision: rev,
			Detail:   detail,
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
// A tagged [masking.SIN] field that sub may see is written as its nine
// digits, so an authorized viewer gets the real value in a response; every
// other SIN, and any SIN encoded by other means, is written as the mask.
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

// A RecordMasker is a [Masker] that decides each field for the record it
// belongs to, as [Authorizer.CheckRecord] decides a record: a list of
// permits in different wards and departments is masked per permit, with no
// scope given by the caller. A field is shown only if the subject holds its
// permission for its record now (the record lies in the scope of a grant
// that allows the permission, satisfies that grant's data rules, and lies
// in the scope of no grant that denies it); every other field is masked.
//
// The record of a field is the nearest enclosing struct that is a record:
// one that implements [abac.Record], or has an exported field whose abac tag
// names one of the Scoper's scope fields ([ScopeFields]), read as
// [abac.Tagged] reads it. Fields of an embedded struct belong to the
// enclosing record; a record nested in another (an inspection inside a
// permit) is decided for itself. A record is read as it was before any of
// its fields was masked. A field in no record is decided for a record with
// no fields, which only a grant that covers unplaced records admits.
//
// Views of personal information are recorded as [EventPIIViewed] events as
// with a Masker, with the reason of the record decision in place of the
// scope; decisions made under emergency access are recorded by CheckRecord
// as [EventEmergency]. Create one with [NewRecordMasker] and share
// it, or call the *Records methods of a [Masker] with the Scoper.
type RecordMasker struct {
	m  *Masker
	sc *Scoper
}

// NewRecordMasker returns a [RecordMasker] that decides with a and sc and
// masks with the masks in opts. opts.Records, if set, replaces the rule that
// says which struct types are records. It fails, wrapping [ErrInvalidInput],
// on a nil Scoper, and wrapping [masking.ErrInvalidOptions] on an invalid
// custom mask.
func NewRecordMasker(a *Authorizer, sc *Scoper, opts MaskOptions) (*RecordMasker, error) {
	if sc == nil {
		return nil, fmt.Errorf("iam: record masker: %w", &rbac.InvalidError{Kind: "scoper", Value: "nil", Reason: "create one with NewScoper"})
	}
	if opts.Records == nil {
		opts.Records = recordTypes(sc)
	}
	m, err := a.Masker(opts)
	if err != nil {
		return nil, fmt.Errorf("iam: record masker: %w", errors.Unwrap(err))
	}
	return &RecordMasker{m: m, sc: sc}, nil
}

// Prepare builds the masking plan for the type of v; see [Masker.Prepare].
func (r *RecordMasker) Prepare(v any) error { return r.m.Prepare(v) }

// Mask masks v in place for sub, deciding each field for its record. v must
// be a non-nil pointer. On error v may be partly masked and must not be
// used, and no pii.viewed event is recorded.
func (r *RecordMasker) Mask(ctx context.Context, sub Subject, v any) error {
	c, err := r.m.startRecords(ctx, "mask records", sub, r.sc)
	if err != nil {
		return err
	}
	if err := r.m.e.MaskRecords(v, c.mayRecord, c.viewed); err != nil {
		return fmt.Errorf("iam: mask records: %w", err)
	}
	c.record()
	return nil
}

// MaskCopy returns a masked deep copy of v for sub, deciding each field for
// its record, and leaves v untouched.
func (r *RecordMasker) MaskCopy(ctx context.Context, sub Subject, v any) (any, error) {
	c, err := r.m.startRecords(ctx, "mask records copy", sub, r.sc)
	if err != nil {
		return nil, err
	}
	out, err := r.m.e.MaskCopyRecords(v, c.mayRecord, c.viewed)
	if err != nil {
		return nil, fmt.Errorf("iam: mask records copy: %w", err)
	}
	c.record()
	return out, nil
}

// Marshal returns the JSON encoding of a masked copy of v for sub, deciding
// each field for its record, as [Masker.Marshal] encodes it: a SIN the
// subject may see for its record is written as its digits.
func (r *RecordMasker) Marshal(ctx context.Context, sub Subject, v any) ([]byte, error) {
	c, err := r.m.startRecords(ctx, "marshal records", sub, r.sc)
	if err != nil {
		return nil, err
	}
	b, err := r.m.e.MarshalRecords(v, c.mayRecord, c.viewed)
	if err != nil {
		return nil, fmt.Errorf("iam: marshal records: %w", err)
	}
	c.record()
	return b, nil
}

// WriteJSON writes what [RecordMasker.Marshal] returns, followed by a
// newline, to w. Nothing is written if masking fails.
func (r *RecordMasker) WriteJSON(ctx context.Context, w io.Writer, sub Subject, v any) error {
	b, err := r.Marshal(ctx, sub, v)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("iam: write JSON: %w", err)
	}
	return nil
}
