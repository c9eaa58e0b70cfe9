package iamotel_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamotel"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

// A service gives one Telemetry to the Authorizer; decisions are counted by
// permission module and outcome, never by subject.
func Example() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader() // in a service: a periodic reader and an exporter
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)
	tel, err := iamotel.New(nil, mp)
	if err != nil {
		fmt.Println(err)
		return
	}
	authz, err := iam.New(ctx, iamtest.NewStore(rbac.Model{
		Roles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grants: []rbac.Grant{{Subject: "user:alice", Role: "clerk", Scope: "org"}},
	}), iam.WithObserver(tel))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer authz.Close()
	_, _ = authz.Check(ctx, "user:alice", "permits.application.read", "ward:7")
	_, _ = authz.Check(ctx, "user:alice", "permits.application.approve", "ward:7")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "iam.decisions" {
				for _, outcome := range []string{"allowed", "denied"} {
					for _, p := range sum.DataPoints {
						if v, _ := p.Attributes.Value("outcome"); v.AsString() == outcome {
							mod, _ := p.Attributes.Value("module")
							fmt.Println(m.Name, mod.AsString(), outcome, p.Value)
						}
					}
				}
			}
		}
	}
	// Output:
	// iam.decisions permits allowed 1
	// iam.decisions permits denied 1
}
