package masking_test

import (
	"testing"

	"github.com/civic-platform/security/masking"
)

// benchRecord is a 20-field record: 9 masked fields, 11 plain ones.
type benchRecord struct {
	ID        string      `iam:"key"`
	SIN       masking.SIN `iam:"crm.citizen.sin.view" mask:"sin"`
	SINText   string      `iam:"crm.citizen.sin.view" mask:"sin"`
	Email     string      `iam:"crm.citizen.email.view" mask:"email"`
	AltEmail  *string     `iam:"crm.citizen.email.view" mask:"email"`
	Phone     string      `iam:"crm.citizen.phone.view" mask:"phone"`
	DOB       string      `iam:"crm.citizen.dob.view" mask:"dob"`
	Postal    string      `iam:"crm.citizen.address.view" mask:"postal"`
	Notes     string      `iam:"crm.citizen.notes.view" mask:"redact"`
	Ward      int         `iam:"crm.citizen.ward.view" mask:"redact" pii:"false"`
	FirstName string
	LastName  string
	Street    string
	City      string
	Province  string
	Language  string
	Status    string
	Active    bool
	Score     float64
	Tags      []string
}

func newBenchRecord(tb testing.TB) benchRecord {
	return benchRecord{
		ID: "C-1", SIN: mustSIN(tb, "046454286"), SINText: "046-454-286", Email: "jane.doe@example.ca",
		AltEmail: ptr("jd@example.org"), Phone: "613-555-0199", DOB: "1980-04-01", Postal: "K1A 0B1",
		Notes: "called about snow removal", Ward: 7, FirstName: "Jane", LastName: "Doe", Street: "1 Main St",
		City: "Ottawa", Province: "ON", Language: "en", Status: "active", Active: true, Score: 0.5,
		Tags: []string{"resident", "voter"},
	}
}

func BenchmarkMask(b *testing.B) {
	var eng masking.Engine
	orig := newBenchRecord(b)
	all := func(string) bool { return true }
	cases := []struct {
		name   string
		may    func(string) bool
		viewed func(masking.View)
	}{
		{name: "nothing held", may: nil},
		{name: "sin held", may: func(p string) bool { return p == "crm.citizen.sin.view" }},
		{name: "all held", may: all},
		{name: "all held, viewed", may: all, viewed: func(masking.View) {}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := new(benchRecord)
			b.ReportAllocs()
			for b.Loop() {
				*r = orig
				if err := eng.Mask(r, c.may, c.viewed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("nothing held, parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := new(benchRecord)
			for pb.Next() {
				*r = orig
				if err := eng.Mask(r, nil, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkMaskJSON(b *testing.B) {
	var eng masking.Engine
	r := newBenchRecord(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := eng.Marshal(&r, nil, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkMaskCopy(b *testing.B) {
	var eng masking.Engine
	r := newBenchRecord(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := masking.Copy(&eng, r, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSIN(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := masking.ParseSIN("046 454 286"); err != nil {
			b.Fatal(err)
		}
	}
}
