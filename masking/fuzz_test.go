package masking_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/civic-platform/security/masking"
)

// sinSeeds are stored SINs, good and malformed.
var sinSeeds = []string{
	"046 454 286", "046-454-286", "046454286", "130692544", "046454287",
	"04645428", "0464542860", "０４６４５４２８６", "", "abcdefghi", "046 454-286", " 046454286 ",
}

func FuzzParseSIN(f *testing.F) {
	for _, s := range sinSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		sin, err := masking.ParseSIN(raw)
		if err == nil {
			if p := sin.Plain(); len(p) != 9 || strings.Trim(p, "0123456789") != "" {
				t.Fatalf("ParseSIN accepted %q as %q", raw, p)
			}
			again, err := masking.ParseSIN(sin.Plain())
			if err != nil || again != sin {
				t.Fatalf("Plain does not parse back: %v", err)
			}
			return
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "0123456789") {
			t.Fatalf("error %q contains digits", msg)
		}
		if len(strings.TrimSpace(raw)) >= 4 && strings.Contains(msg, strings.TrimSpace(raw)) {
			t.Fatalf("error %q echoes the input %q", msg, raw)
		}
		var s masking.SIN
		if err := json.Unmarshal(mustJSON(t, raw), &s); err == nil || strings.ContainsAny(err.Error(), "0123456789") {
			t.Fatalf("UnmarshalJSON error %v", err)
		}
	})
}

func mustJSON(t *testing.T, s string) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

// FuzzMaskConstant checks that the constant masks write exactly their
// constant over any stored string, through every shape of field.
func FuzzMaskConstant(f *testing.F) {
	for _, s := range sinSeeds {
		f.Add(s)
	}
	type rec struct {
		SIN    string            `iam:"crm.citizen.sin.view" mask:"sin"`
		PSIN   *string           `iam:"crm.citizen.sin.view" mask:"sin"`
		SINs   []string          `iam:"crm.citizen.sin.view" mask:"sin"`
		ByKey  map[string]string `iam:"crm.citizen.sin.view" mask:"sin"`
		DOB    string            `mask:"dob"`
		Notes  string            `mask:"redact"`
		Email  string            `mask:"email"`
		Phone  string            `mask:"phone"`
		Postal string            `mask:"postal"`
	}
	var eng masking.Engine
	f.Fuzz(func(t *testing.T, raw string) {
		r := rec{SIN: raw, PSIN: &raw, SINs: []string{raw}, ByKey: map[string]string{"k": raw},
			DOB: raw, Notes: raw, Email: raw, Phone: raw, Postal: raw}
		b, err := eng.Marshal(&r, nil, nil)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if err := eng.Mask(&r, nil, nil); err != nil {
			t.Fatalf("Mask: %v", err)
		}
		if r.SIN != masking.SINMask || *r.PSIN != masking.SINMask || r.SINs[0] != masking.SINMask || r.ByKey["k"] != masking.SINMask ||
			r.DOB != masking.DOBMask || r.Notes != masking.RedactedMask {
			t.Fatalf("constant masks of %q: %+v", raw, r)
		}
		if raw != "" && strings.Trim(raw, "0123456789") == "" && len(raw) >= 5 &&
			(strings.Contains(r.Email, raw) || strings.Contains(r.Phone, raw) || strings.Contains(r.Postal, raw)) {
			t.Fatalf("partial mask kept all digits of %q: %+v", raw, r)
		}
		var back rec
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Marshal output does not decode: %v", err)
		}
		if back.SIN != masking.SINMask || back.Notes != masking.RedactedMask {
			t.Fatalf("Marshal of %q: %s", raw, b)
		}
	})
}
