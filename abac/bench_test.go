package abac_test

import (
	"testing"

	"github.com/civic-platform/security/abac"
)

func benchRules(b *testing.B) []abac.Rule {
	b.Helper()
	var rules []abac.Rule
	for _, text := range []string{
		"ward = subject.ward and status in ('open', 'pending')",
		"department in subject.departments and status != 'closed'",
		"owner = subject.id and facility is null",
	} {
		rules = append(rules, mustParse(b, text))
	}
	return rules
}

var benchSubject = abac.Attributes{
	"ward":        {int64(7)},
	"departments": {"roads", "parks", "water"},
	"id":          {"u-17"},
}

var benchCols = map[string]string{
	"ward": "c.ward_id", "status": "c.status", "department": "c.department",
	"owner": "c.owner_id", "facility": "c.facility_id",
}

// BenchmarkFilterFor binds three rules to a subject.
func BenchmarkFilterFor(b *testing.B) {
	rules := benchRules(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if f := abac.FilterFor(benchSubject, rules...); f.MatchesNone() {
				b.Fatal("none")
			}
		}
	})
}

// BenchmarkFilterSQL renders the filter of three bound rules.
func BenchmarkFilterSQL(b *testing.B) {
	f := abac.FilterFor(benchSubject, benchRules(b)...)
	b.Run("SQL", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := f.SQL(abac.Postgres, benchCols); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("AppendSQL", func(b *testing.B) { // reusing the caller's buffers
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 512)
			args := make([]any, 0, 16)
			for pb.Next() {
				var err error
				if buf, args, err = f.AppendSQL(buf[:0], args[:0], abac.Postgres, benchCols); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkMatch evaluates the filter of three bound rules on one record.
func BenchmarkMatch(b *testing.B) {
	f := abac.FilterFor(benchSubject, benchRules(b)...)
	owner := "u-99"
	c := Case{Base: &Base{Dept: "parks"}, Ward: 3, Status: "open", Owner: &owner}
	m := abac.Map{"ward": 3, "status": "open", "department": "parks", "owner": "u-99"}
	b.Run("Map", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !f.Match(m) {
					b.Fatal("no match")
				}
			}
		})
	})
	b.Run("Tagged", func(b *testing.B) {
		var tg abac.Tagged
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				rec, err := tg.Record(&c)
				if err != nil {
					b.Fatal(err)
				}
				if f.Match(rec) {
					b.Fatal("match") // Tagged Case has "dept", not "department"
				}
			}
		})
	})
}

// BenchmarkParseRule parses a typical rule.
func BenchmarkParseRule(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := abac.ParseRule("department in subject.departments and status in ('open', 'pending') and facility is null"); err != nil {
			b.Fatal(err)
		}
	}
}
