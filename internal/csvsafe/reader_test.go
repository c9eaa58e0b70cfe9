package csvsafe_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/civic-platform/security/internal/csvsafe"
)

func TestReader(t *testing.T) {
	t.Parallel()
	r := csvsafe.NewReader(strings.NewReader("\uFEFFa,b\n\"x\ny\",z\n"), 0)
	rec, line, err := r.Read()
	if err != nil || rec[0] != "a" || line != 1 {
		t.Fatalf("first = %q %d %v", rec, line, err)
	}
	rec, line, err = r.Read()
	if err != nil || rec[0] != "x\ny" || line != 2 {
		t.Fatalf("second = %q %d %v", rec, line, err)
	}
	if _, _, err := r.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("end = %v", err)
	}
	_, _, err = csvsafe.NewReader(strings.NewReader("a,b\nc,d\"e\n"), 0).Read()
	if err != nil {
		t.Fatal(err)
	}
	r = csvsafe.NewReader(strings.NewReader("a,b\nc,d\"e\n"), 0)
	r.Read()
	if _, _, err := r.Read(); csvsafe.Line(err) != 2 || csvsafe.Reason(err) == "" {
		t.Fatalf("bare quote: %v line %d", err, csvsafe.Line(err))
	}
	for _, in := range []string{"\xff\xfea\x00", "\xfe\xff\x00a"} {
		if _, _, err := csvsafe.NewReader(strings.NewReader(in), 0).Read(); !errors.Is(err, csvsafe.ErrEncoding) {
			t.Errorf("UTF-16 %q: %v", in, err)
		}
	}
	if _, _, err := csvsafe.NewReader(strings.NewReader(strings.Repeat("a", 100)), 10).Read(); !errors.Is(err, csvsafe.ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if _, _, err := csvsafe.NewReader(strings.NewReader("abc\n"), 4).Read(); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}
