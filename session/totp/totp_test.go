package totp_test

import (
	"bytes"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/session/totp"
)

var cfg = totp.Config{Issuer: "City of Lakeview"}

func TestEnrol(t *testing.T) {
	e, err := cfg.Enrol("jtremblay@lakeview.ca")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e.URI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("URI %q", e.URI)
	}
	if u.Query().Get("secret") != e.Secret || u.Query().Get("issuer") != "City of Lakeview" {
		t.Fatalf("URI %q does not carry secret and issuer", e.URI)
	}
	img, err := png.Decode(bytes.NewReader(e.PNG))
	if err != nil || img.Bounds().Dx() != 256 {
		t.Fatalf("PNG: %v", err)
	}
	if len(e.Secret) < 32 {
		t.Fatalf("secret %d base32 chars, want 160 bits", len(e.Secret))
	}
	if _, err := (totp.Config{}).Enrol("x"); err == nil {
		t.Fatal("Enrol without issuer succeeded")
	}
}

func TestMatchWindow(t *testing.T) {
	e, _ := cfg.Enrol("a@b.c")
	at := time.Unix(1_800_000_000, 0)
	step := cfg.Step(at)
	for _, d := range []int64{-1, 0, 1} {
		code, _ := cfg.Code(e.Secret, at.Add(time.Duration(d)*30*time.Second))
		got, err := cfg.Match(e.Secret, code, at)
		if err != nil || got != step+d {
			t.Errorf("offset %d: step %d, %v; want %d", d, got, err, step+d)
		}
	}
	for _, d := range []int64{-3, 3} {
		code, _ := cfg.Code(e.Secret, at.Add(time.Duration(d)*30*time.Second))
		if s, err := cfg.Match(e.Secret, code, at); !errors.Is(err, totp.ErrWrongCode) {
			// A collision with an in-window step is possible in theory.
			if c, _ := cfg.Code(e.Secret, time.Unix(s*30, 0)); c != code {
				t.Errorf("offset %d: err = %v, want ErrWrongCode", d, err)
			}
		}
	}
	noSkew := totp.Config{Issuer: "x", Skew: totp.NoSkew}
	code, _ := cfg.Code(e.Secret, at.Add(-30*time.Second))
	if _, err := noSkew.Match(e.Secret, code, at); !errors.Is(err, totp.ErrWrongCode) {
		t.Errorf("NoSkew accepted the previous step: %v", err)
	}
}

func TestMatchMalformed(t *testing.T) {
	e, _ := cfg.Enrol("a@b.c")
	at := time.Now()
	for _, code := range []string{"", "12345", "1234567", "12345a", "١٢٣٤٥٦", " 123456", strings.Repeat("1", 1<<20)} {
		if _, err := cfg.Match(e.Secret, code, at); !errors.Is(err, totp.ErrMalformedCode) {
			t.Errorf("Match(%q) err = %v, want ErrMalformedCode", code, err)
		}
	}
	for _, secret := range []string{"", "not base32!", "JBSWY3DP"} {
		if _, err := cfg.Match(secret, "123456", at); !errors.Is(err, totp.ErrInvalidSecret) {
			t.Errorf("secret %q: err = %v, want ErrInvalidSecret", secret, err)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, err := totp.NewRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d codes", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c] {
			t.Fatal("duplicate code")
		}
		seen[c] = true
		h1, err := totp.HashRecoveryCode("u1", c)
		if err != nil {
			t.Fatal(err)
		}
		h2, _ := totp.HashRecoveryCode("u1", strings.ToUpper(strings.ReplaceAll(c, "-", " ")))
		if h1 != h2 {
			t.Fatal("typing variations hash differently")
		}
		if h3, _ := totp.HashRecoveryCode("u2", c); h3 == h1 {
			t.Fatal("hash does not depend on the user")
		}
		if strings.Contains(h1, c) {
			t.Fatal("hash holds the code")
		}
	}
	for _, bad := range []string{"", "abc", "iiiii-lllll", strings.Repeat("a", 40), "abcde-fghj\x00"} {
		if _, err := totp.HashRecoveryCode("u1", bad); !errors.Is(err, totp.ErrMalformedCode) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
