package casbinx_test

import (
	"testing"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/fixtures"
	"github.com/civic-platform/security/rbac"
)

// BenchmarkLoadRows measures building the compiled policy of a city of
// 100,000 users from its stored rows (both twins of every assignment, in
// id order), the work a store's load does after reading the table.
func BenchmarkLoadRows(b *testing.B) {
	m := fixtures.City(fixtures.Config{Seed: 1, Users: 100_000})
	lines := casbinx.Encode(m)
	rows := make([]casbinx.Row, len(lines))
	for i, l := range lines {
		rows[i] = casbinx.Row{ID: int64(i + 1), Line: l}
	}
	b.ReportMetric(float64(len(rows)), "rows")
	for b.Loop() {
		_, p, err := casbinx.LoadRows(rows, nil)
		if err != nil || len(p.Quarantine()) != 0 {
			b.Fatal(err, p.Quarantine())
		}
	}
}

// BenchmarkCompileCity is the compile alone, for comparison.
func BenchmarkCompileCity(b *testing.B) {
	m := fixtures.City(fixtures.Config{Seed: 1, Users: 100_000})
	for b.Loop() {
		if _, err := rbac.Compile(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCompile is the strict decode of the allow lines and the
// compile, for comparison with BenchmarkLoadRows.
func BenchmarkDecodeCompile(b *testing.B) {
	m := fixtures.City(fixtures.Config{Seed: 1, Users: 100_000})
	var lines []casbinx.Line
	for _, l := range casbinx.Encode(m) {
		if l.PType != "p" || l.Values[5] != "deny" {
			lines = append(lines, l)
		}
	}
	for b.Loop() {
		d, err := casbinx.Decode(lines, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rbac.Compile(d); err != nil {
			b.Fatal(err)
		}
	}
}
