package totp_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/session/totp"
)

// A Config with odd fields never panics and never accepts a code it
// should not: sub-second periods, unsupported digit counts, huge skews.
func TestAdversarialOddConfigs(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	for _, c := range []totp.Config{
		{Issuer: "x", Period: 500 * time.Millisecond},
		{Issuer: "x", Period: -time.Second},
		{Issuer: "x", Period: 1500 * time.Millisecond},
		{Issuer: "x", Digits: 7},
		{Issuer: "x", Digits: -1},
		{Issuer: "x", Skew: 1 << 20}, {Issuer: "x", Skew: -5},
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%+v: panic %v", c, r)
				}
			}()
			e, err := c.Enrol("a@b.c")
			if err != nil {
				t.Logf("%+v: Enrol refused: %v", c, err)
				return
			}
			code, err := c.Code(e.Secret, at)
			if err != nil {
				t.Fatalf("%+v: Code: %v", c, err)
			}
			start := time.Now()
			if _, err := c.Match(e.Secret, code, at); err != nil {
				t.Errorf("%+v: own code refused: %v", c, err)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("%+v: Match took %v", c, d)
			}
			other, _ := c.Code(e.Secret, at.Add(24*time.Hour))
			if _, err := c.Match(e.Secret, other, at); err == nil && other != code {
				t.Errorf("%+v: a code from a day later accepted", c)
			}
		}()
	}
}

// Codes that are not exactly the configured number of ASCII digits are
// malformed, whatever digits they use.
func TestAdversarialCodeShapes(t *testing.T) {
	c := totp.Config{Issuer: "x"}
	e, _ := c.Enrol("a@b.c")
	at := time.Unix(1_800_000_000, 0)
	code, _ := c.Code(e.Secret, at)
	shift := func(base rune) string {
		return strings.Map(func(r rune) rune { return r - '0' + base }, code)
	}
	for name, bad := range map[string]string{
		"arabic-indic": shift('\u0660'), "persian": shift('\u06f0'), "devanagari": shift('\u0966'),
		"full-width": shift('\uff10'), "mathematical": shift('\U0001d7ce'), "spaced": code[:3] + " " + code[3:],
		"tab": code + "\t", "7 digits": code + "1", "leading zero": "0" + code, "5 digits": code[:5], "NUL": code[:5] + "\x00",
	} {
		if _, err := c.Match(e.Secret, bad, at); !errors.Is(err, totp.ErrMalformedCode) {
			t.Errorf("%s: %v, want ErrMalformedCode", name, err)
		}
	}
}
