package masking_test

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/civic-platform/security/masking"
)

func TestParseSIN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // digits; "" for an error
	}{
		{"046454286", "046454286"},
		{"046 454 286", "046454286"},
		{"046-454-286", "046454286"},
		{" 046 454 286\t", "046454286"},
		{"046-454 286", "046454286"},
		{"130692544", "130692544"},
		{"", ""},
		{"   ", ""},
		{"046454287", ""},    // check digit
		{"04645428", ""},     // 8 digits
		{"0464542860", ""},   // 10 digits
		{"046 454 2860", ""}, // 10 digits, grouped
		{"046_454_286", ""},
		{"046 45 4286", ""},
		{"0464 54 286", ""},
		{"０４６４５４２８６", ""}, // full-width digits
		{"٠٤٦٤٥٤٢٨٦", ""}, // Arabic-Indic digits
		{"04645428a", ""},
		{"abcdefghi", ""},
		{"+46454286", ""},
		{"***-***-***", ""},
		{"046454286\x00", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			t.Parallel()
			sin, err := masking.ParseSIN(tt.in)
			if tt.want != "" {
				if err != nil || sin.Plain() != tt.want {
					t.Fatalf("ParseSIN = %q, %v; want %q", sin.Plain(), err, tt.want)
				}
				return
			}
			var se *masking.SINError
			if !errors.Is(err, masking.ErrInvalidSIN) || !errors.As(err, &se) {
				t.Fatalf("ParseSIN = %q, %v; want a *SINError", sin.Plain(), err)
			}
			if !sin.IsZero() {
				t.Errorf("ParseSIN returned digits with an error")
			}
			assertNoEcho(t, err.Error(), tt.in)
		})
	}
}

// assertNoEcho fails if msg shows in, or any run of three digits from it.
func assertNoEcho(t *testing.T, msg, in string) {
	t.Helper()
	if strings.TrimSpace(in) != "" && strings.Contains(msg, strings.TrimSpace(in)) {
		t.Errorf("error %q echoes the input %q", msg, in)
	}
	if strings.ContainsAny(msg, "0123456789") {
		t.Errorf("error %q contains digits", msg)
	}
}

func TestSINRendersMask(t *testing.T) {
	t.Parallel()
	sin := mustSIN(t, "046 454 286")
	type wrapper struct{ SIN masking.SIN }
	tests := []struct {
		format string
		arg    any
		want   string
	}{
		{"%v", sin, "***-***-***"},
		{"%+v", sin, "***-***-***"},
		{"%#v", sin, "masking.SIN{***-***-***}"},
		{"%s", sin, "***-***-***"},
		{"%q", sin, `"***-***-***"`},
		{"%x", sin, "***-***-***"},
		{"%X", sin, "***-***-***"},
		{"%d", sin, "***-***-***"},
		{"%13s|", sin, "  ***-***-***|"},
		{"%-13v|", sin, "***-***-***  |"},
		{"%v", &sin, "***-***-***"},
		{"%v", []masking.SIN{sin}, "[***-***-***]"},
		{"%+v", wrapper{sin}, "{SIN:***-***-***}"},
		{"%#v", wrapper{sin}, "masking_test.wrapper{SIN:masking.SIN{***-***-***}}"},
		{"%v", map[string]masking.SIN{"a": sin}, "map[a:***-***-***]"},
		{"%v", masking.SIN{}, "***-***-***"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			t.Parallel()
			if got := fmt.Sprintf(tt.format, tt.arg); got != tt.want {
				t.Errorf("Sprintf(%q) = %q, want %q", tt.format, got, tt.want)
			}
		})
	}
	if got := fmt.Sprint(sin) + sin.String() + fmt.Sprintln(sin); strings.Contains(got, "046") {
		t.Errorf("leak: %q", got)
	}
}

func TestSINEncodings(t *testing.T) {
	t.Parallel()
	sin := mustSIN(t, "046454286")
	type rec struct {
		SIN masking.SIN `json:"sin" xml:"sin"`
		Ptr *masking.SIN
	}
	js, err := json.Marshal(rec{SIN: sin, Ptr: &sin})
	if err != nil || string(js) != `{"sin":"***-***-***","Ptr":"***-***-***"}` {
		t.Errorf("json.Marshal = %s, %v", js, err)
	}
	x, err := xml.Marshal(rec{SIN: sin})
	if err != nil || strings.Contains(string(x), "046") {
		t.Errorf("xml.Marshal = %s, %v", x, err)
	}
	var logged bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("x", "sin", sin, "rec", rec{SIN: sin})
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "sin", sin, "rec", rec{SIN: sin})
	if strings.Contains(logged.String(), "046") || !strings.Contains(logged.String(), `"sin":"***-***-***"`) {
		t.Errorf("slog output = %s", logged.String())
	}
	text, err := sin.MarshalText()
	if err != nil || string(text) != masking.SINMask {
		t.Errorf("MarshalText = %s, %v", text, err)
	}
}

func TestSINDecode(t *testing.T) {
	t.Parallel()
	var got struct{ SIN masking.SIN }
	if err := json.Unmarshal([]byte(`{"SIN":"046-454-286"}`), &got); err != nil || got.SIN.Plain() != "046454286" {
		t.Fatalf("json.Unmarshal = %q, %v", got.SIN.Plain(), err)
	}
	if err := json.Unmarshal([]byte(`{"SIN":null}`), &got); err != nil || got.SIN.Plain() != "046454286" {
		t.Errorf("null changed the SIN: %q, %v", got.SIN.Plain(), err)
	}
	for _, body := range []string{`{"SIN":"046454287"}`, `{"SIN":46454286}`, `{"SIN":"***-***-***"}`, `{"SIN":["046454286"]}`, `{"SIN":"046 454 28"}`} {
		var v struct{ SIN masking.SIN }
		err := json.Unmarshal([]byte(body), &v)
		if !errors.Is(err, masking.ErrInvalidSIN) {
			t.Errorf("json.Unmarshal(%s) = %v, want ErrInvalidSIN", body, err)
			continue
		}
		assertNoEcho(t, err.Error(), "")
		if strings.Contains(err.Error(), "4645428") {
			t.Errorf("error echoes the input: %v", err)
		}
	}
	var s masking.SIN
	if err := s.UnmarshalText([]byte("130 692 544")); err != nil || s.Plain() != "130692544" {
		t.Errorf("UnmarshalText = %q, %v", s.Plain(), err)
	}
}

func TestSINSQL(t *testing.T) {
	t.Parallel()
	var _ sql.Scanner = (*masking.SIN)(nil)
	var _ sql.Scanner = (*masking.SINColumn)(nil)
	var _ driver.Valuer = masking.SINColumn{}
	// A SIN is not a driver.Valuer: SQL loggers call Value to print a
	// query's arguments, so only the explicit storage type gives digits.
	if _, ok := any(masking.SIN{}).(driver.Valuer); ok {
		t.Error("SIN implements driver.Valuer")
	}
	if _, ok := any(&masking.SIN{}).(driver.Valuer); ok {
		t.Error("*SIN implements driver.Valuer")
	}
	sin := mustSIN(t, "046454286")
	if v, err := (masking.SINColumn{SIN: sin}).Value(); err != nil || v != "046454286" {
		t.Errorf("Value = %v, %v; want the digits", v, err)
	}
	if v, err := (masking.SINColumn{}).Value(); err != nil || v != nil {
		t.Errorf("zero Value = %v, %v; want NULL", v, err)
	}
	col := masking.SINColumn{SIN: sin}
	if got := fmt.Sprintf("%v %s %+v %x", col, col, col, col); strings.Contains(got, "046") {
		t.Errorf("SINColumn prints %q", got)
	}
	for _, src := range []any{"046454286", []byte("046-454-286")} {
		var s masking.SIN
		if err := s.Scan(src); err != nil || s.Plain() != "046454286" {
			t.Errorf("Scan(%T) = %q, %v", src, s.Plain(), err)
		}
		var c masking.SINColumn
		if err := c.Scan(src); err != nil || c.Plain() != "046454286" || c.SIN != sin {
			t.Errorf("SINColumn.Scan(%T) = %q, %v", src, c.Plain(), err)
		}
	}
	s := sin
	if err := s.Scan(nil); err != nil || !s.IsZero() {
		t.Errorf("Scan(nil) = %q, %v", s.Plain(), err)
	}
	for _, src := range []any{int64(46454286), "046454287", []byte("bad")} {
		err := s.Scan(src)
		if !errors.Is(err, masking.ErrInvalidSIN) {
			t.Errorf("Scan(%T) = %v, want ErrInvalidSIN", src, err)
			continue
		}
		assertNoEcho(t, err.Error(), "")
	}
}
