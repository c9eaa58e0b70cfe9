package masking_test

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/civic-platform/security/masking"
)

// leakedDigits reports whether out shows the digits of a SIN, in any of
// the ways a SIN is written.
func leakedDigits(out, digits string) bool {
	if len(digits) != 9 {
		return false
	}
	for _, form := range []string{digits, digits[:3] + " " + digits[3:6] + " " + digits[6:], digits[:3] + "-" + digits[3:6] + "-" + digits[6:]} {
		if strings.Contains(out, form) {
			return true
		}
	}
	return false
}

// inner holds SINs only in unexported fields, which fmt prints without
// calling their methods.
type inner struct {
	s  masking.SIN
	p  *masking.SIN
	a  any
	m  map[string]masking.SIN
	l  []masking.SIN
	c  masking.SINColumn
	ar [2]masking.SIN
}

// outer holds SINs in every exported shape and an inner by value, by
// pointer and unexported.
type outer struct {
	S  masking.SIN
	P  *masking.SIN
	PP **masking.SIN
	A  any
	M  map[string]masking.SIN
	K  map[masking.SIN]int
	L  []masking.SIN
	C  masking.SINColumn
	PC *masking.SINColumn
	In inner
	IP *inner
	in inner
	i  any
}

// sinShapes returns sin inside every shape fmt, slog and the encoders can
// reach, exported or not.
func sinShapes(sin masking.SIN) []any {
	p := &sin
	col := masking.SINColumn{SIN: sin}
	in := inner{s: sin, p: p, a: sin, m: map[string]masking.SIN{"k": sin}, l: []masking.SIN{sin}, c: col, ar: [2]masking.SIN{sin, sin}}
	o := outer{S: sin, P: p, PP: &p, A: sin, M: map[string]masking.SIN{"k": sin}, K: map[masking.SIN]int{sin: 1},
		L: []masking.SIN{sin}, C: col, PC: &col, In: in, IP: &in, in: in, i: in}
	return []any{
		sin, p, &p, col, &col, in, &in, o, &o,
		[]any{sin, in}, map[any]any{sin: sin, "in": in}, [2]masking.SIN{sin, sin},
		struct{ a any }{sin}, struct{ a any }{&o}, reflect.ValueOf(sin), reflect.ValueOf(in),
	}
}

// formatSeeds are every verb fmt knows and a spread of ones it does not,
// with flags, width, precision and argument indexes.
func formatSeeds() []string {
	verbs := "vTtbcdoOqxXUeEfFgGspw" + "aAhHiIjJkKlLmMnNPrRSuVWyYzZ!@#&()[]{}<>?/|\\~`^=_;:,'\"é世"
	flags := []string{"", "+", "-", "#", " ", "0", "+#", "-0", "# ", "12", "-12", ".3", "12.3", "[1]", "+[1]", "#[2]"}
	var out []string
	for _, v := range verbs {
		for _, fl := range flags {
			out = append(out, "%"+fl+string(v))
		}
	}
	return append(out, "%", "%!", "%%", "%[3]v", "%[0]v", "%*v", "%.*v", "%[1]*v", "%v %v %v", "plain")
}

// TestSINNeverPrintsDigits runs every verb and flag over every shape.
func TestSINNeverPrintsDigits(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"130692544"} {
		sin := mustSIN(t, raw)
		for _, shape := range sinShapes(sin) {
			for _, f := range formatSeeds() {
				if out := fmt.Sprintf(f, shape, shape); leakedDigits(out, raw) {
					t.Fatalf("Sprintf(%q, %T) = %q", f, shape, out)
				}
			}
			for _, out := range []string{fmt.Sprint(shape), fmt.Sprintln(shape, shape), fmt.Errorf("x: %v", shape).Error()} {
				if leakedDigits(out, raw) {
					t.Fatalf("%T printed %q", shape, out)
				}
			}
		}
	}
}

// FuzzSINNeverLeaks checks that no SIN shows its digits through fmt (any
// format string), slog (text and JSON), encoding/json, encoding/xml or
// encoding/gob, wherever it sits.
func FuzzSINNeverLeaks(f *testing.F) {
	for i, s := range sinSeeds {
		for j, fm := range formatSeeds() {
			if (i+j)%23 == 0 {
				f.Add(s, fm)
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw, format string) {
		sin, err := masking.ParseSIN(raw)
		if err != nil {
			return
		}
		digits := sin.Plain()
		if longDigitRun(format) || leakedDigits(format, digits) {
			return // the format itself would write digits or a huge width
		}
		shapes := sinShapes(sin)
		var outs []string
		for _, shape := range shapes {
			outs = append(outs, fmt.Sprintf(format, shape, shape, shape), fmt.Sprint(shape), fmt.Sprintf("%v|%+v|%#v", shape, shape, shape))
		}
		var text, js bytes.Buffer
		for _, shape := range shapes {
			slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", shape, slog.Group("g", "v", shape))
			slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", shape, slog.Group("g", "v", shape))
			if b, err := json.Marshal(shape); err == nil {
				outs = append(outs, string(b))
			}
			if b, err := xml.Marshal(shape); err == nil {
				outs = append(outs, string(b))
			}
		}
		outs = append(outs, text.String(), js.String(), string(gobBytes(t, sin)))
		for _, out := range outs {
			if leakedDigits(out, digits) {
				t.Fatalf("SIN digits leaked: %q", out)
			}
		}
	})
}

func longDigitRun(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			if n++; n > 3 {
				return true
			}
		} else {
			n = 0
		}
	}
	return false
}

// gobRecord is what a service might send through encoding/gob.
type gobRecord struct {
	S  masking.SIN
	P  *masking.SIN
	C  masking.SINColumn
	L  []masking.SIN
	M  map[string]masking.SIN
	K  map[masking.SIN]int
	In struct{ S masking.SIN }
}

func gobBytes(t *testing.T, sin masking.SIN) []byte {
	t.Helper()
	var buf bytes.Buffer
	r := gobRecord{S: sin, P: &sin, C: masking.SINColumn{SIN: sin}, L: []masking.SIN{sin}, M: map[string]masking.SIN{"k": sin}, K: map[masking.SIN]int{sin: 1}}
	r.In.S = sin
	if err := gob.NewEncoder(&buf).Encode(r); err != nil {
		t.Fatalf("gob: %v", err)
	}
	return buf.Bytes()
}

// TestSINGob checks that gob carries the mask, and that the mask does not
// decode back into a SIN.
func TestSINGob(t *testing.T) {
	t.Parallel()
	sin := mustSIN(t, "046454286")
	b := gobBytes(t, sin)
	if bytes.Contains(b, []byte("046454286")) || !bytes.Contains(b, []byte(masking.SINMask)) {
		t.Fatalf("gob bytes %q", b)
	}
	var back gobRecord
	err := gob.NewDecoder(bytes.NewReader(b)).Decode(&back)
	if !errors.Is(err, masking.ErrInvalidSIN) && (err == nil || !strings.Contains(err.Error(), "invalid SIN")) {
		t.Fatalf("gob decode of the mask = %v, want an invalid SIN error", err)
	}
	if err != nil && leakedDigits(err.Error(), "046454286") {
		t.Errorf("error shows the digits: %v", err)
	}
}
