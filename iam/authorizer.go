package iam

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/civic-platform/security/internal/audit"
	"github.com/civic-platform/security/internal/instant"
	"github.com/civic-platform/security/internal/perm"
	"github.com/civic-platform/security/rbac"
)

type snapshot struct {
	revision int64
	policy   *rbac.Policy // compiled; never mutated after publication
	// model is what policy was compiled from, kept for the data-scope
	// index ([Scoper]); never mutated after publication.
	model rbac.Model
	// paths caches the explanations recorded for checks made under
	// emergency access (nil when caching is off, [WithSubjectCache]). It
	// belongs to this snapshot: a reload drops it with the snapshot.
	paths *lruCache[pathKey, emergencyPath]
}

// Authorizer answers authorization questions from an immutable, atomically
// swapped policy snapshot. Create one with [New]; it is safe for concurrent
// use. Call [Authorizer.Close] to stop its watcher.
type Authorizer struct {
	src  PolicySource
	opts options

	snap     atomic.Pointer[snapshot]
	reloadMu sync.Mutex // serializes rebuilds; checks never take it
	closed   atomic.Bool
	fresh    freshness // staleness bound, health, revision waits (freshness.go)

	keeper keeper // saves snapshots to the WithFallback store

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New loads the policy from src, compiles it and returns a ready Authorizer.
// It fails rather than start with an empty policy: if src cannot be read or
// holds an invalid policy, New returns the error.
func New(ctx context.Context, src PolicySource, opts ...Option) (*Authorizer, error) {
	if src == nil {
		return nil, errors.New("iam: New: nil PolicySource")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.mfa.err != nil {
		return nil, fmt.Errorf("iam: New: %w", o.mfa.err)
	}
	a := &Authorizer{src: src, opts: o}
	a.initFreshness() // resolves the poll and the staleness bound for src
	a.keeper.signal = make(chan struct{}, 1)
	if err := a.reload(ctx); err != nil {
		if o.fallback == nil {
			return nil, fmt.Errorf("iam: New: loading the initial policy: %w", err)
		}
		if ferr := a.startFromFallback(ctx, err); ferr != nil {
			return nil, fmt.Errorf("iam: New: loading the initial policy: %w; and the fallback: %w", err, ferr)
		}
		o.logger.Warn("iam: store unreachable; serving the fallback copy of the policy until it is back",
			"err", err, "revision", a.Revision(), "confirmed", a.Health().LastConfirmed)
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	if a.needsRefreshLoop() {
		a.fresh.looping = true
		a.wg.Add(1)
		go a.refreshLoop(bg)
	}
	if a.fresh.fallback.Load() {
		a.wg.Add(1)
		go a.retryLoop(bg)
	}
	if o.fallback != nil {
		a.wg.Add(1)
		go a.keepLoop(bg)
	}
	return a, nil
}

// Close stops the watcher and the other background goroutines and waits
// for them, including a save to the [WithFallback] store in progress.
// Checks after Close return [ErrClosed]. Close is idempotent.
func (a *Authorizer) Close() error {
	if a.closed.Swap(true) {
		return nil
	}
	a.cancel()
	a.wg.Wait()
	a.fresh.wake() // WaitForRevision callers see ErrClosed
	return nil
}

// Revision returns the revision of the policy snapshot in use.
func (a *Authorizer) Revision() int64 {
	if s := a.snap.Load(); s != nil {
		return s.revision
	}
	return 0
}

// Reload builds a new snapshot from the source and publishes it only if it
// is valid and newer than the one in use. On error the current snapshot
// keeps serving, and the error is reported by [Authorizer.Health] until a
// later reload succeeds. A successful load confirms that the snapshot is
// current even when the revision has not moved (see [WithMaxStaleness]).
// A store whose revision is behind the snapshot's (restored from a backup,
// or reset) is an error: changes written there would never be loaded.
func (a *Authorizer) Reload(ctx context.Context) error {
	if o := a.opts.observer; o != nil {
		start := time.Now()
		err := a.reload(ctx)
		o.Reload(ctx, a.Revision(), err, time.Since(start))
		if err != nil {
			return fmt.Errorf("iam: reload: %w", err)
		}
		return nil
	}
	if err := a.reload(ctx); err != nil {
		return fmt.Errorf("iam: reload: %w", err)
	}
	return nil
}

// reload is Reload with errors not yet prefixed.
func (a *Authorizer) reload(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()

	start := a.opts.clock() // the data read is at least this recent
	cur := a.snap.Load()
	// Serving the fallback copy: read the whole policy, whatever its
	// revision, to compare it with the copy.
	fallback := a.fresh.fallback.Load()
	var (
		m        rbac.Model
		p        *rbac.Policy
		revision int64
		err      error
	)
	if cs, ok := a.src.(CompiledSource); ok {
		after := int64(-1) // no snapshot yet: load whatever is there
		if cur != nil && !fallback {
			after = cur.revision
		}
		m, p, revision, err = cs.LoadCompiled(ctx, after)
	} else {
		m, revision, err = a.src.LoadPolicy(ctx)
	}
	if err != nil {
		a.failed(err)
		return err
	}
	if fallback && cur != nil {
		return a.leaveFallback(ctx, cur, m, p, revision, start)
	}
	if cur != nil && revision <= cur.revision {
		if revision < cur.revision {
			err := fmt.Errorf("store is at revision %d, behind the snapshot's revision %d (restored or reset?); not confirming; restart to load it", revision, cur.revision)
			a.failed(err)
			return err
		}
		a.confirm(start)
		return nil // nothing newer: keep the snapshot and its warm cache
	}
	if p == nil {
		if p, err = rbac.Compile(m); err != nil {
			err = fmt.Errorf("revision %d: %w", revision, err)
			a.failed(err)
			return err
		}
	}
	a.keep(a.publish(m, p, revision), start)
	a.confirm(start)
	a.fresh.wake()
	return nil
}

// publish makes a snapshot of policy p (compiled from m) at revision the
// one checks use. The caller holds reloadMu, and wakes WaitForRevision
// once the snapshot's confirmation is recorded.
func (a *Authorizer) publish(m rbac.Model, p *rbac.Policy, revision int64) *snapshot {
	next := &snapshot{revision: revision, policy: p, model: m}
	next.paths = newLRUCache[pathKey, emergencyPath](min(a.opts.cacheSize, maxPaths), hashPathKey)
	a.snap.Store(next)
	return next
}

// load returns the snapshot for one decision, or an error if the
// Authorizer is closed or its snapshot is stale ([WithMaxStaleness]).
func (a *Authorizer) load() (*snapshot, error) {
	s, _, err := a.loadAt()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// loadAt is load that also returns the instant of the decision on the
// Authorizer's clock. When the snapshot is stale it returns it with a
// [*StaleError], so that the caller can say which revision it refused. The
// staleness gate is one atomic load and a comparison.
func (a *Authorizer) loadAt() (*snapshot, time.Time, error) {
	if a.closed.Load() {
		return nil, time.Time{}, ErrClosed
	}
	s := a.snap.Load()
	if s == nil {
		return nil, time.Time{}, ErrClosed
	}
	now := a.opts.clock()
	if at := instant.Of(now); at > a.fresh.staleAfter.Load() && !a.reconfirm() {
		return s, now, a.staleError(s, at)
	}
	return s, now, nil
}

// decide runs one check on snapshot s at instant at, straight from the
// compiled policy's indexes.
func (a *Authorizer) decide(s *snapshot, sub Subject, perm Permission, scope Scope, at time.Time) (rbac.Result, error) {
	q, err := s.policy.Resolve(perm, scope)
	if err != nil {
		return rbac.Result{}, fmt.Errorf("iam: check: %w", err)
	}
	res := s.policy.Decide(sub, q, at)
	if res.Reason == rbac.ReasonUnknownSubject { // subjects in the policy are valid
		if err := sub.Validate(); err != nil {
			return rbac.Result{}, fmt.Errorf("iam: check: %w", err)
		}
	}
	return res, nil
}

// Check reports whether sub may use perm at scope now. A clean deny is a
// Decision with Allowed false and a nil error; a non-nil error means the
// input was malformed (wrapping [ErrInvalidInput]), the Authorizer is
// closed ([ErrClosed]) or its policy has not been confirmed current within
// the bound set with [WithMaxStaleness] (a [*StaleError] wrapping
// [ErrStale]), and the returned Decision denies. A permission no rule or catalog
// entry names is a clean deny. Check never blocks and allocates nothing.
func (a *Authorizer) Check(ctx context.Context, sub Subject, perm Permission, scope Scope) (Decision, error) {
	if o := a.opts.observer; o != nil {
		start := time.Now()
		d, err := a.check(ctx, sub, perm, scope)
		o.Decision(ctx, perm, d, err, time.Since(start))
		return d, err
	}
	return a.check(ctx, sub, perm, scope)
}

func (a *Authorizer) check(ctx context.Context, sub Subject, perm Permission, scope Scope) (Decision, error) {
	s, at, err := a.loadAt()
	if err != nil {
		if s != nil {
			return Decision{Reason: "stale policy", Revision: s.revision}, err
		}
		return Decision{}, err
	}
	res, err := a.decide(s, sub, perm, scope, at)
	if err != nil {
		return Decision{Reason: "invalid input", Revision: s.revision}, err
	}
	d := Decision{Allowed: res.Allowed, Reason: res.Reason.String(), Revision: s.revision}
	if res.Emergency {
		a.recordEmergency(ctx, s, emergencyUse{kind: "check", sub: sub, perm: perm, scope: scope, decision: d, grant: res.DecidingGrant(), at: at})
	}
	return d, nil
}

// Require is the handler-friendly form of [Authorizer.Check]: it returns nil
// when allowed, a [*DeniedError] (errors.Is(err, ErrDenied)) when denied, and
// any other error when no decision could be made — which callers must also
// treat as a denial.
func (a *Authorizer) Require(ctx context.Context, sub Subject, perm Permission, scope Scope) error {
	d, err := a.Check(ctx, sub, perm, scope)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return &DeniedError{Subject: sub, Permission: perm, Scope: scope, Reason: d.Reason, Revision: d.Revision}
	}
	return nil
}

// CheckMany decides a batch on one snapshot at one instant. The result has
// one Decision per request, in order. A malformed request gets a denying
// Decision, and the returned error joins every such request's error, each
// prefixed with its index.
func (a *Authorizer) CheckMany(ctx context.Context, reqs []Request) ([]Decision, error) {
	o := a.opts.observer
	if o == nil {
		return a.checkMany(ctx, reqs)
	}
	start := time.Now()
	out, err := a.checkMany(ctx, reqs)
	took := time.Since(start)
	if len(reqs) > 0 {
		took /= time.Duration(len(reqs))
	}
	for i, d := range out {
		// Each request is one decision; those refused as malformed or for
		// a stale policy count as errors.
		var derr error
		if err != nil && (d.Reason == "invalid input" || d.Reason == "stale policy" || d.Reason == "") {
			derr = err
		}
		o.Decision(ctx, reqs[i].Permission, d, derr, took)
	}
	return out, err
}

func (a *Authorizer) checkMany(ctx context.Context, reqs []Request) ([]Decision, error) {
	s, at, err := a.loadAt()
	if err != nil {
		out := make([]Decision, len(reqs))
		if s != nil {
			for i := range out {
				out[i] = Decision{Reason: "stale policy", Revision: s.revision}
			}
		}
		return out, err
	}
	out := make([]Decision, len(reqs))
	var errs []error
	for i, r := range reqs {
		if r.Authn != nil && r.Authn.Subject != "" && r.Authn.Subject != r.Subject {
			out[i] = Decision{Reason: "invalid input", Revision: s.revision}
			errs = append(errs, fmt.Errorf("request %d: iam: check: %w", i, &rbac.InvalidError{Kind: "request", Value: perm.Quote(string(r.Authn.Subject)),
				Reason: "authenticated subject differs from the request's subject"}))
			continue
		}
		res, err := a.decide(s, r.Subject, r.Permission, r.Scope, at)
		if err != nil {
			out[i] = Decision{Reason: "invalid input", Revision: s.revision}
			errs = append(errs, fmt.Errorf("request %d: %w", i, err))
			continue
		}
		out[i] = a.stepUp(Decision{Allowed: res.Allowed, Reason: res.Reason.String(), Revision: s.revision}, r.Authn, r.Permission)
		if res.Emergency {
			a.recordEmergency(ctx, s, emergencyUse{kind: "check", sub: r.Subject, perm: r.Permission, scope: r.Scope, decision: out[i],
				grant: res.DecidingGrant(), at: at})
		}
	}
	return out, errors.Join(errs...)
}

// Explain decides like [Authorizer.Check] and returns the path that decided
// (user → group → grant → role → parent role → rule) and any other matching
// paths. It does more work than Check; use it for people and logs. Like
// every decision made under emergency access, an explanation of one is
// recorded as decision.emergency (kind "explain").
func (a *Authorizer) Explain(ctx context.Context, sub Subject, perm Permission, scope Scope) (Explanation, error) {
	s, at, err := a.loadAt()
	if err != nil {
		return Explanation{}, err
	}
	if err := sub.Validate(); err != nil {
		return Explanation{}, fmt.Errorf("iam: explain: %w", err)
	}
	ex, err := s.policy.Explain(sub, perm, scope, at)
	if err != nil {
		return Explanation{}, fmt.Errorf("iam: explain: %w", err)
	}
	out := Explanation{
		Decision: Decision{Allowed: ex.Allowed, Reason: ex.Reason.String(), Revision: s.revision},
		Decisive: ex.Decisive,
		Others:   ex.Others,
	}
	if ex.Emergency {
		a.recordEmergency(ctx, s, emergencyUse{kind: "explain", sub: sub, perm: perm, scope: scope, decision: out.Decision, at: at,
			path: &emergencyPath{path: ex.Decisive.String()}})
	}
	return out, nil
}

// Permissions returns every known permission sub holds at scope now, sorted.
func (a *Authorizer) Permissions(ctx context.Context, sub Subject, scope Scope) ([]Permission, error) {
	s, err := a.load()
	if err != nil {
		return nil, err
	}
	if err := sub.Validate(); err != nil {
		return nil, fmt.Errorf("iam: permissions: %w", err)
	}
	ps, err := s.policy.Permissions(sub, scope, a.opts.clock())
	if err != nil {
		return nil, fmt.Errorf("iam: permissions: %w", err)
	}
	return ps, nil
}

// WhoCan lists the roles that hold perm and the subjects that may use it at
// scope now, each with the path that gives it. It scans the whole policy;
// use it for access reviews, not per request.
func (a *Authorizer) WhoCan(ctx context.Context, perm Permission, scope Scope) (Access, error) {
	s, err := a.load()
	if err != nil {
		return Access{}, err
	}
	acc, err := s.policy.WhoCan(perm, scope, a.opts.clock())
	if err != nil {
		return Access{}, fmt.Errorf("iam: who can: %w", err)
	}
	return acc, nil
}

// emit completes e (id, schema version, time) and hands it to the audit
// sink. A sink error is logged, never returned: the decision or change it
// reports has already happened.
func (a *Authorizer) emit(ctx context.Context, e Event) {
	if e.ID == "" {
		e.ID = audit.NewID()
	}
	if e.Version == 0 {
		e.Version = EventSchemaVersion
	}
	if e.Time.IsZero() {
		e.Time = a.opts.clock()
	}
	if err := a.opts.audit.Record(ctx, e); err != nil {
		a.opts.logger.Error("iam: audit sink failed", "event", e.Type, "err", err)
	}
}
