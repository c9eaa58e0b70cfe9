package iamotel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/iam/iamotel"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func model() rbac.Model {
	return rbac.Model{
		Roles: []rbac.Role{
			{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}},
			{ID: "payer", Permissions: []rbac.Permission{"finance.ap.payment.release"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:alice", Role: "clerk", Scope: "org"},
			{Subject: "user:bob", Role: "payer", Scope: "org"},
		},
	}
}

type env struct {
	tel    *iamotel.Telemetry
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	authz  *iam.Authorizer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()); _ = tp.Shutdown(context.Background()) })
	tel, err := iamotel.New(tp, mp)
	if err != nil {
		t.Fatal(err)
	}
	authz, err := iam.New(context.Background(), iamtest.NewStore(model()), iam.WithObserver(tel), iam.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { authz.Close() })
	return &env{tel: tel, reader: reader, spans: spans, authz: authz}
}

// points returns the data points of metric name as attribute string -> value.
func (e *env) points(t *testing.T, name string) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] += float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] += float64(p.Count)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] = float64(p.Value)
				}
			}
		}
	}
	return out
}

func key(s attribute.Set) string {
	k := ""
	for _, kv := range s.ToSlice() {
		if k != "" {
			k += ","
		}
		k += string(kv.Key) + "=" + kv.Value.Emit()
	}
	return k
}

func TestDecisionMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for range 3 {
		_, _ = e.authz.Check(ctx, "user:alice", "permits.application.read", "org")
	}
	_, _ = e.authz.Check(ctx, "user:alice", "finance.ap.payment.release", "org")
	_, _ = e.authz.Check(ctx, "user:alice", "permits.application.read", "region:x") // malformed: error
	got := e.points(t, "iam.decisions")
	want := map[string]float64{"module=permits,outcome=allowed": 3, "module=finance,outcome=denied": 1, "module=permits,outcome=error": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("iam.decisions = %v, want %v", got, want)
	}
	if lat := e.points(t, "iam.check.duration"); lat["module=permits"] != 4 || lat["module=finance"] != 1 {
		t.Fatalf("iam.check.duration counts = %v", lat)
	}
}

func TestModuleLabelsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for i := range 3 * iamotel.MaxModules {
		_, _ = e.authz.Check(ctx, "user:alice", iam.Permission(fmt.Sprintf("m%d.entity.read", i)), "org")
	}
	_, _ = e.authz.Check(ctx, "user:alice", "User:Alice'--.x.y", "org")
	got := e.points(t, "iam.decisions")
	if len(got) > iamotel.MaxModules+2 {
		t.Fatalf("%d label sets for made-up modules, want at most %d", len(got), iamotel.MaxModules+2)
	}
	for k := range got {
		if len(k) > 80 {
			t.Errorf("label %q", k)
		}
	}
}

func TestReloadMetricsAndSpan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.authz.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.points(t, "iam.policy.reloads"); got["outcome=ok"] < 1 {
		t.Fatalf("reloads = %v", got)
	}
	if got := e.points(t, "iam.policy.reload.duration"); got[""] < 1 {
		t.Fatalf("reload duration = %v", got)
	}
	found := false
	for _, s := range e.spans.Ended() {
		if s.Name() == "iam.policy.reload" {
			found = true
		}
	}
	if !found {
		t.Fatal("no iam.policy.reload span")
	}
}

func TestStalenessGauge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	stop, err := e.tel.WatchAuthorizer(e.authz)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if got := e.points(t, "iam.policy.revision"); got[""] != 1 {
		t.Fatalf("revision gauge = %v", got)
	}
	if got := e.points(t, "iam.policy.staleness"); got[""] < 0 || got[""] > 60 {
		t.Fatalf("staleness gauge = %v", got)
	}
}

func TestSessionLookups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	k, _ := session.GenerateKey(session.EdDSA, "k1")
	ring, _ := session.NewKeyring(k)
	m, err := session.New(session.NewMemoryStore(), ring, session.WithObserver(e.tel), session.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, tok, err := m.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !m.Health().Connected; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the session feed never connected")
		}
	}
	for range 4 {
		if _, err := m.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = m.Verify(ctx, "junk")
	got := e.points(t, "iam.session.lookups")
	if got["cache=miss,outcome=ok"] != 1 || got["cache=hit,outcome=ok"] != 3 || got["cache=miss,outcome=refused"] != 1 {
		t.Fatalf("lookups = %v", got)
	}
}

func TestSignInFailureMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := &iamtest.Recorder{}
	sink := e.tel.Sink(rec)
	ctx := context.Background()
	for _, ev := range []iam.Event{
		{Type: "login.failed", Detail: map[string]string{"reason": "bad_password"}},
		{Type: "login.failed", Detail: map[string]string{"reason": "bad_password"}},
		{Type: "login.failed", Detail: map[string]string{"reason": "user:alice@x"}}, // never a label
		{Type: "mfa.failed"},
		{Type: "account.locked", Detail: map[string]string{"scope": "account"}},
		{Type: "login.succeeded"},
	} {
		if err := sink.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.points(t, "iam.signin.failures"); got["reason=bad_password"] != 2 || got["reason=other"] != 1 || got["reason=bad_code"] != 1 || len(got) != 3 {
		t.Fatalf("failures = %v", got)
	}
	if got := e.points(t, "iam.signin.lockouts"); got["scope=account"] != 1 {
		t.Fatalf("lockouts = %v", got)
	}
	if len(rec.Events()) != 6 {
		t.Fatalf("passed on %d events", len(rec.Events()))
	}
}

func TestHTTPSpans(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mw, err := iamhttp.New(e.authz, iamhttp.WithTelemetry(e.tel), iamhttp.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /permits/{id}", mw.Require("permits.application.read", iamhttp.Fixed("org"))(http.NotFoundHandler()))
	h := mw.Authenticate(mux)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/permits/p1", nil))
	ctx, end := e.tel.StartSignIn(context.Background(), "password")
	_ = ctx
	end(errors.New("bad password"))
	var sawHTTP, sawSignIn, sawRoute bool
	for _, s := range e.spans.Ended() {
		switch s.Name() {
		case "HTTP GET":
			sawHTTP = true
			for _, a := range s.Attributes() {
				if a.Key == "http.response.status_code" && a.Value.AsInt64() != 401 {
					t.Errorf("status attribute %v", a.Value.AsInt64())
				}
				if a.Key == "http.route" {
					sawRoute = a.Value.AsString() == "GET /permits/{id}"
				}
			}
		case "iam.signin":
			sawSignIn = true
		}
	}
	if !sawHTTP || !sawSignIn || !sawRoute {
		t.Fatalf("spans: http %v, signin %v, route %v", sawHTTP, sawSignIn, sawRoute)
	}
	if got := e.points(t, "iam.http.requests"); got["http.request.method=GET,http.response.status_class=4xx"] != 1 {
		t.Fatalf("requests = %v", got)
	}
}

// TestNoAllocationsWithoutProvider: a check allocates nothing for metrics
// when no Telemetry is configured, and nothing either with a Telemetry over
// no-op providers.
func TestNoAllocationsWithoutProvider(t *testing.T) {
	ctx := context.Background()
	bare, err := iam.New(ctx, iamtest.NewStore(model()), iam.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	noop, err := iamotel.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	withNoop, err := iam.New(ctx, iamtest.NewStore(model()), iam.WithLogger(quiet), iam.WithObserver(noop))
	if err != nil {
		t.Fatal(err)
	}
	defer withNoop.Close()
	for name, a := range map[string]*iam.Authorizer{"no observer": bare, "no-op providers": withNoop} {
		_, _ = a.Check(ctx, "user:alice", "permits.application.read", "org")
		if n := testing.AllocsPerRun(200, func() {
			_, _ = a.Check(ctx, "user:alice", "permits.application.read", "org")
		}); n != 0 {
			t.Errorf("%s: %v allocations per check", name, n)
		}
	}
}

// TestRecordDecisionMetrics: CheckRecord's decisions are counted like
// Check's.
func TestRecordDecisionMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	sc, err := iam.NewScoper(iam.DataScopes{})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = e.authz.CheckRecord(ctx, "user:alice", "permits.application.read", sc, abac.Map{})
	_, _ = e.authz.CheckRecord(ctx, "user:alice", "finance.ap.payment.release", sc, abac.Map{})
	got := e.points(t, "iam.decisions")
	if got["module=permits,outcome=allowed"]+got["module=permits,outcome=denied"] != 1 || got["module=finance,outcome=denied"] != 1 {
		t.Fatalf("iam.decisions = %v", got)
	}
}

// TestBatchDecisionMetrics: each request of CheckMany counts as one
// decision, a malformed one as an error.
func TestBatchDecisionMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, _ = e.authz.CheckMany(context.Background(), []iam.Request{
		{Subject: "user:alice", Permission: "permits.application.read", Scope: "org"},
		{Subject: "user:alice", Permission: "finance.ap.payment.release", Scope: "org"},
		{Subject: "user:alice", Permission: "permits.application.read", Scope: "region:x"},
	})
	got := e.points(t, "iam.decisions")
	want := map[string]float64{"module=permits,outcome=allowed": 1, "module=finance,outcome=denied": 1, "module=permits,outcome=error": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("iam.decisions = %v, want %v", got, want)
	}
}
