package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := []string{
		"weak password refused: signin: set password: password: too weak: common or leaked password",
		"password sign-in: user:jtremblay methods=password level=single-factor mfa=not-required",
		"wrong password: signin: invalid email or password",
		"unknown email: signin: invalid email or password",
		"enrol: otpauth://totp/City%20of%20Lakeview:julie.tremblay@lakeview.ca... QR PNG true",
		"enrolled: 10 recovery codes",
		"password accepted, second factor required: true",
		"password+TOTP sign-in: user:jtremblay methods=password+totp level=multi-factor mfa=done",
		"replayed code: signin: invalid code (invalid code: true)",
		"after logout: refused: ",
	}
	got := out.String()
	last := -1
	for _, w := range want {
		i := strings.Index(got, w)
		if i < 0 {
			t.Errorf("output lacks %q", w)
			continue
		}
		if i < last {
			t.Errorf("%q out of order", w)
		}
		last = i
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
	if strings.Contains(got, "trois pommes") {
		t.Error("output shows the password")
	}
}
