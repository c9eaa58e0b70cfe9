package onboard_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/civic-platform/security/session/onboard"
)

func feedOf(n int) string {
	var b strings.Builder
	b.WriteString(header)
	positions := []string{"Bylaw Officer", "Planner", "Clerk", "Urbaniste", "Trésorier"}
	depts := []string{"bylaw", "parks", "finance"}
	for i := range n {
		fmt.Fprintf(&b, "E%05d,Given%d,Family%d,person%d@lakeview.ca,%s,%s,,2027-01-04,fr\n", i, i, i, i, positions[i%len(positions)], depts[i%len(depts)])
	}
	return b.String()
}

// BenchmarkParseCSV parses a 10,000-employee HRIS export.
func BenchmarkParseCSV(b *testing.B) {
	in := feedOf(10_000)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := onboard.ParseCSV(strings.NewReader(in), 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlan is the dry run of a 1,000-employee feed against a city
// with no one onboarded yet: every row a joiner, the whole change checked
// against the segregation-of-duties rules.
func BenchmarkPlan(b *testing.B) {
	h := newHarness(b, cityModel())
	feed, err := onboard.ParseCSV(strings.NewReader(feedOf(1_000)), 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := h.svc.Plan(context.Background(), feed, onboard.PlanOptions{Full: true})
		if err != nil || len(d.Joiners) != 1_000 {
			b.Fatal(len(d.Joiners), err)
		}
	}
}
