package iamotel_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamotel"
	"github.com/civic-platform/security/iamtest"
)

// BenchmarkCheckTelemetry measures a warm check with no Telemetry, with a
// Telemetry over no-op providers, and with the OpenTelemetry SDK recording.
//
//	go test -run '^$' -bench BenchmarkCheckTelemetry -benchmem ./iam/iamotel
func BenchmarkCheckTelemetry(b *testing.B) {
	ctx := context.Background()
	noop, err := iamotel.New(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(ctx)
	sdk, err := iamotel.New(nil, mp)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts []iam.Option
	}{
		{"none", nil},
		{"noop-providers", []iam.Option{iam.WithObserver(noop)}},
		{"sdk-metrics", []iam.Option{iam.WithObserver(sdk)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a, err := iam.New(ctx, iamtest.NewStore(model()), append(bc.opts, iam.WithLogger(quiet))...)
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := a.Check(ctx, "user:alice", "permits.application.read", "org"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
