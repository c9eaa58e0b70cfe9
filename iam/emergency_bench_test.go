package iam_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/internal/fixtures"
	"github.com/civic-platform/security/rbac"
)

// BenchmarkEmergencyCheck compares a warm check made under emergency access
// with a normal warm check in the synthetic city, both with a sink that
// drops events. The decision is the same lookup in both; a check under
// emergency access also builds its decision.emergency event (event id,
// detail map and the decisive path from Explain), so the difference
// between the two is the price of the audit record. emergency-uncached
// turns the snapshot's cache of those paths off (WithSubjectCache(0)), to
// show what that cache saves.
func BenchmarkEmergencyCheck(b *testing.B) {
	at := fixtures.DefaultAt
	m := fixtures.City(fixtures.Config{At: at})
	m.Roles = append(m.Roles, rbac.Role{ID: "bench-eoc", Emergency: true, Composite: true, Permissions: []rbac.Permission{"bench.incident.command"}},
		rbac.Role{ID: "bench-staff", Permissions: []rbac.Permission{"bench.incident.command"}})
	m.Grants = append(m.Grants,
		rbac.Grant{Subject: "user:bench-eoc", Role: "bench-eoc", Scope: "org", NotBefore: at.Add(-time.Hour), NotAfter: at.Add(time.Hour), Reason: "bench"},
		rbac.Grant{Subject: "user:bench-staff", Role: "bench-staff", Scope: "org"})
	drop := iam.AuditFunc(func(context.Context, iam.Event) error { return nil })
	build := func(opts ...iam.Option) *iam.Authorizer {
		a, err := iam.New(context.Background(), iamtest.NewStore(m), append(opts, iam.WithClock(iamtest.Clock(at)), iam.WithAuditSink(drop))...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		return a
	}
	cached, uncached := build(), build(iam.WithSubjectCache(0))
	ctx := context.Background()
	for _, c := range []struct {
		name string
		sub  iam.Subject
		a    *iam.Authorizer
	}{{"normal", "user:bench-staff", cached}, {"emergency", "user:bench-eoc", cached}, {"emergency-uncached", "user:bench-eoc", uncached}} {
		a := c.a
		d, err := a.Check(ctx, c.sub, "bench.incident.command", "dept:fire")
		if err != nil || !d.Allowed {
			b.Fatalf("%s: %+v %v", c.name, d, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := a.Check(ctx, c.sub, "bench.incident.command", "dept:fire"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkComplianceReport runs the compliance report over the synthetic
// city of 10,000 users with 40 conflict rules. Target: under 1 s.
func BenchmarkComplianceReport(b *testing.B) {
	m := fixtures.City(fixtures.Config{})
	var roles []rbac.RoleID
	for _, r := range m.Roles {
		if !r.Emergency {
			roles = append(roles, r.ID)
		}
	}
	for i := range 40 {
		m.Conflicts = append(m.Conflicts, rbac.ConflictRule{ID: fmt.Sprintf("sod-%d", i), Roles: [2]rbac.RoleID{roles[i*3], roles[len(roles)-1-i*3]}})
	}
	a, err := iam.New(context.Background(), iamtest.NewStore(m), iam.WithClock(iamtest.Clock(fixtures.DefaultAt)))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	b.ReportAllocs()
	var rep reports.ComplianceReport
	for b.Loop() {
		if rep, err = reports.Compliance(a.View()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rep.Violations)), "violations")
}
