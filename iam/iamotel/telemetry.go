package iamotel

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	nooptrace "go.opentelemetry.io/otel/trace/noop"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/session"
)

// InstrumentationName names the tracer and meter.
const InstrumentationName = "github.com/civic-platform/security"

// MaxModules is how many distinct permission modules get their own label;
// decisions on further modules are labelled "other", so a caller sending
// made-up permissions cannot grow the metric's cardinality.
const MaxModules = 64

// Telemetry holds the tracer and instruments. Build it with [New]. It
// implements [iam.Observer] and [session.Observer].
type Telemetry struct {
	tracer     trace.Tracer
	decisions  metric.Int64Counter
	checkDur   metric.Float64Histogram
	reloads    metric.Int64Counter
	reloadDur  metric.Float64Histogram
	lookups    metric.Int64Counter
	failures   metric.Int64Counter
	lockouts   metric.Int64Counter
	requests   metric.Int64Counter
	meter      metric.Meter
	modules    sync.Map // module string -> *moduleOpts
	nmodules   atomic.Int32
	other      *moduleOpts
	reloadOK   []metric.AddOption
	reloadErr  []metric.AddOption
	lookupOpts [2][2][]metric.AddOption // [hit][ok]
}

// moduleOpts are the precomputed attribute options of one module, so that
// recording a decision allocates nothing.
type moduleOpts struct {
	allowed, denied, errored []metric.AddOption
	dur                      []metric.RecordOption
}

var _ iam.Observer = (*Telemetry)(nil)
var _ session.Observer = (*Telemetry)(nil)

// New returns a Telemetry recording through tp and mp. A nil provider
// records nothing of its kind.
func New(tp trace.TracerProvider, mp metric.MeterProvider) (*Telemetry, error) {
	if tp == nil {
		tp = nooptrace.NewTracerProvider()
	}
	if mp == nil {
		mp = noopmetric.NewMeterProvider()
	}
	t := &Telemetry{tracer: tp.Tracer(InstrumentationName), meter: mp.Meter(InstrumentationName)}
	m := t.meter
	var err, e error
	t.decisions, e = m.Int64Counter("iam.decisions", metric.WithDescription("Authorization decisions by permission module and outcome."), metric.WithUnit("{decision}"))
	err = errors.Join(err, e)
	t.checkDur, e = m.Float64Histogram("iam.check.duration", metric.WithDescription("Time to decide one check."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 5e-5, 1e-4, 1e-3, 1e-2))
	err = errors.Join(err, e)
	t.reloads, e = m.Int64Counter("iam.policy.reloads", metric.WithDescription("Policy reloads and confirmations."), metric.WithUnit("{reload}"))
	err = errors.Join(err, e)
	t.reloadDur, e = m.Float64Histogram("iam.policy.reload.duration", metric.WithDescription("Time to reload the policy."), metric.WithUnit("s"))
	err = errors.Join(err, e)
	t.lookups, e = m.Int64Counter("iam.session.lookups", metric.WithDescription("Session verifications, answered from the process cache (hit) or the store (miss)."), metric.WithUnit("{lookup}"))
	err = errors.Join(err, e)
	t.failures, e = m.Int64Counter("iam.signin.failures", metric.WithDescription("Failed sign-in attempts by reason."), metric.WithUnit("{attempt}"))
	err = errors.Join(err, e)
	t.lockouts, e = m.Int64Counter("iam.signin.lockouts", metric.WithDescription("Accounts and clients locked after repeated failures."), metric.WithUnit("{lock}"))
	err = errors.Join(err, e)
	t.requests, e = m.Int64Counter("iam.http.requests", metric.WithDescription("HTTP requests through the iamhttp middleware by status class."), metric.WithUnit("{request}"))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	t.other = newModuleOpts("other")
	t.reloadOK = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "ok")))}
	t.reloadErr = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "error")))}
	for hit, hv := range []string{"miss", "hit"} {
		for ok, ov := range []string{"refused", "ok"} {
			t.lookupOpts[hit][ok] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("cache", hv), attribute.String("outcome", ov)))}
		}
	}
	return t, nil
}

func newModuleOpts(module string) *moduleOpts {
	mod := attribute.String("module", module)
	set := func(outcome string) []metric.AddOption {
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(mod, attribute.String("outcome", outcome)))}
	}
	return &moduleOpts{allowed: set("allowed"), denied: set("denied"), errored: set("error"),
		dur: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(mod))}}
}

// module returns the options for perm's module: its first segment when it
// is a plausible module name, "other" past MaxModules or for junk.
func (t *Telemetry) module(perm iam.Permission) *moduleOpts {
	mod, _, _ := strings.Cut(string(perm), ".")
	if v, ok := t.modules.Load(mod); ok {
		return v.(*moduleOpts)
	}
	if !plausibleModule(mod) || t.nmodules.Load() >= MaxModules {
		return t.other
	}
	v, loaded := t.modules.LoadOrStore(strings.Clone(mod), newModuleOpts(mod))
	if !loaded {
		t.nmodules.Add(1)
	}
	return v.(*moduleOpts)
}

func plausibleModule(s string) bool {
	if s == "" || len(s) > 48 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Decision implements [iam.Observer]: it counts the decision by module and
// outcome and records its latency.
func (t *Telemetry) Decision(ctx context.Context, perm iam.Permission, d iam.Decision, err error, took time.Duration) {
	m := t.module(perm)
	switch {
	case err != nil:
		t.decisions.Add(ctx, 1, m.errored...)
	case d.Allowed:
		t.decisions.Add(ctx, 1, m.allowed...)
	default:
		t.decisions.Add(ctx, 1, m.denied...)
	}
	t.checkDur.Record(ctx, took.Seconds(), m.dur...)
}

// Reload implements [iam.Observer]: it counts the reload, records its
// duration and a span "iam.policy.reload" covering it.
func (t *Telemetry) Reload(ctx context.Context, revision int64, err error, took time.Duration) {
	end := time.Now()
	_, span := t.tracer.Start(ctx, "iam.policy.reload", trace.WithTimestamp(end.Add(-took)),
		trace.WithAttributes(attribute.Int64("iam.policy.revision", revision)))
	if err != nil {
		t.reloads.Add(ctx, 1, t.reloadErr...)
		span.SetStatus(codes.Error, "reload failed")
		span.RecordError(err)
	} else {
		t.reloads.Add(ctx, 1, t.reloadOK...)
	}
	span.End(trace.WithTimestamp(end))
	t.reloadDur.Record(ctx, took.Seconds())
}

// Lookup implements [session.Observer].
func (t *Telemetry) Lookup(ctx context.Context, hit, ok bool) {
	t.lookups.Add(ctx, 1, t.lookupOpts[b2i(hit)][b2i(ok)]...)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// failureReasons are the reasons signin reports in login.failed; any other
// value is counted as "other".
var failureReasons = map[string]bool{"bad_password": true, "unknown_user": true, "no_password": true,
	"inactive": true, "bad_code": true, "locked": true}

// Sink returns an [iam.AuditSink] that counts sign-in failures (login.failed,
// mfa.failed) and lockouts (account.locked) and passes every event on to
// next (nil: to nobody). Give it to signin.WithEvents.
func (t *Telemetry) Sink(next iam.AuditSink) iam.AuditSink {
	return iam.AuditFunc(func(ctx context.Context, e iam.Event) error {
		switch e.Type {
		case "login.failed", "mfa.failed":
			reason := e.Detail["reason"]
			if e.Type == "mfa.failed" {
				reason = "bad_code"
			}
			if !failureReasons[reason] {
				reason = "other"
			}
			t.failures.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
		case "account.locked":
			scope := e.Detail["scope"]
			if scope != "client" && scope != "account" {
				scope = "other"
			}
			t.lockouts.Add(ctx, 1, metric.WithAttributes(attribute.String("scope", scope)))
		}
		if next == nil {
			return nil
		}
		return next.Record(ctx, e)
	})
}

// WatchAuthorizer registers the gauges iam.policy.staleness (seconds since
// a's policy was last confirmed current; -1 when never) and
// iam.policy.revision, read from a.Health when metrics are collected.
// Call the returned function to unregister them.
func (t *Telemetry) WatchAuthorizer(a *iam.Authorizer) (func() error, error) {
	stale, err := t.meter.Float64ObservableGauge("iam.policy.staleness", metric.WithUnit("s"),
		metric.WithDescription("Seconds since the policy snapshot was last confirmed current."))
	if err != nil {
		return nil, err
	}
	rev, err := t.meter.Int64ObservableGauge("iam.policy.revision", metric.WithDescription("Policy revision in use."))
	if err != nil {
		return nil, err
	}
	reg, err := t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		h := a.Health()
		age := -1.0
		if !h.LastConfirmed.IsZero() {
			age = time.Since(h.LastConfirmed).Seconds()
		}
		o.ObserveFloat64(stale, age)
		o.ObserveInt64(rev, h.Revision)
		return nil
	}, stale, rev)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}

// StartSignIn starts the span "iam.signin" for one sign-in attempt. Call end
// with the attempt's error; it never records the email or the password.
func (t *Telemetry) StartSignIn(ctx context.Context, method string) (context.Context, func(err error)) {
	ctx, span := t.tracer.Start(ctx, "iam.signin", trace.WithAttributes(attribute.String("iam.signin.method", method)))
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, "sign-in refused")
		}
		span.End()
	}
}

// StartRequest starts the server span for an HTTP request ("HTTP GET").
// iamhttp calls it; end records the status, the route pattern the mux
// matched ("" if none) and the request counter.
func (t *Telemetry) StartRequest(r *http.Request) (context.Context, func(status int, route string)) {
	ctx, span := t.tracer.Start(r.Context(), "HTTP "+methodName(r.Method), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", methodName(r.Method))))
	return ctx, func(status int, route string) {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if route != "" {
			span.SetAttributes(attribute.String("http.route", route))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
		t.requests.Add(ctx, 1, metric.WithAttributes(attribute.String("http.request.method", methodName(r.Method)),
			attribute.String("http.response.status_class", statusClass(status))))
	}
}

func methodName(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "_OTHER"
}

func statusClass(s int) string {
	switch {
	case s < 200:
		return "1xx"
	case s < 300:
		return "2xx"
	case s < 400:
		return "3xx"
	case s < 500:
		return "4xx"
	}
	return "5xx"
}
