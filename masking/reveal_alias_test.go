package masking_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/civic-platform/security/masking"
)

// TestMarshalRevealsOnlyTheTaggedField checks that revealing a SIN to a
// caller who may see it changes only the field whose tag allowed it: a
// pointer, slice or map that the revealed field shares with an untagged
// field, an interface or a field the caller may not see still encodes as
// the mask there, through Marshal and Encode.
func TestMarshalRevealsOnlyTheTaggedField(t *testing.T) {
	t.Parallel()
	type rec struct {
		P  *masking.SIN                 `iam:"crm.citizen.sin.view" mask:"sin"`
		L  []masking.SIN                `iam:"crm.citizen.sin.view" mask:"sin"`
		LP []*masking.SIN               `iam:"crm.citizen.sin.view" mask:"sin"`
		M  map[string]masking.SIN       `iam:"crm.citizen.sin.view" mask:"sin"`
		MP map[string]*masking.SIN      `iam:"crm.citizen.sin.view" mask:"sin"`
		MC map[string]masking.SINColumn `iam:"crm.citizen.sin.view" mask:"sin"`

		Q   *masking.SIN // the same values, untagged
		QQ  **masking.SIN
		I   any
		UL  []masking.SIN
		ULP []*masking.SIN
		UM  map[string]masking.SIN
		UMP map[string]*masking.SIN
		UMC map[string]masking.SINColumn
		O   *masking.SIN  `iam:"crm.citizen.other.view" mask:"sin"` // not held
		OL  []masking.SIN `iam:"crm.citizen.other.view" mask:"redact"`
	}
	sin := mustSIN(t, secret)
	p := &sin
	l := []masking.SIN{sin, sin}
	lp := []*masking.SIN{p}
	m := map[string]masking.SIN{"k": sin}
	mp := map[string]*masking.SIN{"k": p}
	mc := map[string]masking.SINColumn{"k": {SIN: sin}}
	r := rec{P: p, L: l, LP: lp, M: m, MP: mp, MC: mc,
		Q: p, QQ: &p, I: p, UL: l, ULP: lp, UM: m, UMP: mp, UMC: mc, O: p, OL: l}
	var eng masking.Engine
	holder := func(perm string) bool { return perm == "crm.citizen.sin.view" }
	const shown = 7 // P, L twice, LP, M, MP, MC
	for _, v := range []any{r, &r, []any{&r}} {
		b, err := eng.Marshal(v, holder, nil)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := eng.Encode(json.NewEncoder(&buf), v, holder, nil); err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{string(b), buf.String()} {
			if got := strings.Count(out, secret); got != shown {
				t.Errorf("%d SINs shown, want %d (only the fields tagged with the held permission): %s", got, shown, out)
			}
			var back map[string]any
			obj := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(out), "["), "]")
			if err := json.Unmarshal([]byte(obj), &back); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"Q", "QQ", "I", "UL", "ULP", "UM", "UMP", "UMC", "O", "OL"} {
				if bk, _ := json.Marshal(back[k]); strings.Contains(string(bk), secret) {
					t.Errorf("field %s shows the digits: %s", k, bk)
				}
			}
		}
	}
	if b, _ := json.Marshal(r); strings.Contains(string(b), secret) {
		t.Errorf("the caller's value encodes with digits after a reveal: %s", b)
	}
}
