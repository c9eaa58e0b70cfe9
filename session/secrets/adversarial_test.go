package secrets_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/civic-platform/security/session/secrets"
)

func typed(err error) bool {
	return errors.Is(err, secrets.ErrMalformed) || errors.Is(err, secrets.ErrDecrypt) || errors.Is(err, secrets.ErrUnknownKey)
}

// Every prefix of a sealed value, and every single-bit flip of it, fails
// to open with a typed error and never yields a plaintext.
func TestAdversarialEveryTruncationAndBitFlip(t *testing.T) {
	ctx := context.Background()
	s := newSealer(t, newKeys(t, "k1", "k2"))
	pt := []byte("JBSWY3DPEHPK3PXPJBSWY3DP")
	sealed, err := s.Seal(ctx, pt, rowA)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(sealed); n++ {
		got, err := s.Open(ctx, sealed[:n], rowA)
		if err == nil || got != nil || !typed(err) {
			t.Fatalf("prefix %d: %q, %v", n, got, err)
		}
	}
	for i := 0; i < len(sealed); i++ {
		for bit := 0; bit < 8; bit++ {
			b := []byte(sealed)
			b[i] ^= 1 << bit
			got, err := s.Open(ctx, string(b), rowA)
			if err == nil || got != nil || !typed(err) {
				t.Fatalf("flip byte %d bit %d: %q, %v", i, bit, got, err)
			}
		}
	}
	// Extra bytes at the end, and the parts swapped, fail too.
	f := strings.Split(sealed, ".")
	for name, v := range map[string]string{
		"appended":      sealed + "A",
		"appended dot":  sealed + ".",
		"swapped":       f[0] + "." + f[1] + "." + f[3] + "." + f[2],
		"padding":       sealed + "==",
		"std base64":    strings.NewReplacer("-", "+", "_", "/").Replace(sealed),
		"upper version": "V1" + sealed[2:],
		"empty":         "",
		"1MB":           strings.Repeat("A", 1<<20),
	} {
		if v == sealed {
			continue
		}
		got, err := s.Open(ctx, v, rowA)
		if err == nil || !typed(err) {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
}

// A value moved to another row, column or table, or to a binding whose
// parts merely shift bytes between fields, does not open.
func TestAdversarialMovedBindings(t *testing.T) {
	ctx := context.Background()
	s := newSealer(t, newKeys(t, "k1"))
	b := secrets.Binding{Table: "iam_totp", Column: "secret", Row: "u1"}
	sealed, err := s.Seal(ctx, []byte("x"), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []secrets.Binding{
		{Table: "iam_totp", Column: "secret", Row: "u2"},
		{Table: "iam_totp", Column: "secret", Row: "U1"},
		{Table: "iam_totp", Column: "secret", Row: "u1 "},
		{Table: "iam_totp", Column: "secrets", Row: "u1"},
		{Table: "iam_keys", Column: "secret", Row: "u1"},
		{Table: "iam_tot", Column: "psecret", Row: "u1"},
		{Table: "iam_totp", Column: "secretu", Row: "1"},
		{Table: "iam_totpsecret", Column: "u", Row: "1"},
	} {
		if _, err := s.Open(ctx, sealed, o); !errors.Is(err, secrets.ErrDecrypt) {
			t.Errorf("%+v: %v, want ErrDecrypt", o, err)
		}
	}
}

// A key id replaced by another known id is ErrDecrypt; by an unknown id,
// ErrUnknownKey; a key dropped from the provider, ErrUnknownKey. After a
// rotation old values open, new ones are sealed under the new key, and
// Reseal moves old ones.
func TestAdversarialKeyIDsAndRotation(t *testing.T) {
	ctx := context.Background()
	k1 := newKeys(t, "k1")
	old := newSealer(t, k1)
	sealed, err := old.Seal(ctx, []byte("secret"), rowA)
	if err != nil {
		t.Fatal(err)
	}
	k2line := newKeys(t, "k2")
	rotated := newSealer(t, k1+"\n"+k2line)
	if got, err := rotated.Open(ctx, sealed, rowA); err != nil || string(got) != "secret" {
		t.Fatalf("old value after rotation: %q %v", got, err)
	}
	fresh, _ := rotated.Seal(ctx, []byte("secret"), rowA)
	if kid, _ := secrets.KeyID(fresh); kid != "k2" {
		t.Fatalf("new value under %q", kid)
	}
	moved, err := rotated.Reseal(ctx, sealed, rowA)
	if kid, _ := secrets.KeyID(moved); err != nil || kid != "k2" {
		t.Fatalf("Reseal: %q %v", kid, err)
	}
	if _, err := rotated.Open(ctx, strings.Replace(sealed, ".k1.", ".k2.", 1), rowA); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("other known key id: %v", err)
	}
	if _, err := rotated.Open(ctx, strings.Replace(sealed, ".k1.", ".k9.", 1), rowA); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("unknown key id: %v", err)
	}
	onlyNew := newSealer(t, k2line)
	if _, err := onlyNew.Open(ctx, sealed, rowA); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("retired key: %v", err)
	}
}

type failingKP struct{ err error }

func (f failingKP) Wrap(context.Context, []byte) (string, []byte, error) { return "", nil, f.err }
func (f failingKP) Unwrap(context.Context, string, []byte) ([]byte, error) {
	return nil, f.err
}

type leakyKP struct {
	kid     string
	wrapped []byte
	dk      []byte
}

func (l *leakyKP) Wrap(_ context.Context, dk []byte) (string, []byte, error) {
	l.dk = append([]byte(nil), dk...)
	return l.kid, l.wrapped, nil
}
func (l *leakyKP) Unwrap(context.Context, string, []byte) ([]byte, error) { return l.dk, nil }

var errKMS = errors.New("kms: unavailable")

// Provider failures propagate (errors.Is finds the provider's error) and
// a provider that answers nonsense is refused with a typed error at Seal,
// not stored as a value that can never open.
func TestAdversarialProviderErrors(t *testing.T) {
	ctx := context.Background()
	s, _ := secrets.NewSealer(failingKP{errKMS})
	if _, err := s.Seal(ctx, []byte("x"), rowA); !errors.Is(err, errKMS) {
		t.Fatalf("Seal: %v", err)
	}
	good := newSealer(t, newKeys(t, "k1"))
	sealed, _ := good.Seal(ctx, []byte("x"), rowA)
	if _, err := s.Open(ctx, sealed, rowA); !errors.Is(err, errKMS) {
		t.Fatalf("Open: %v", err)
	}
	for name, kp := range map[string]*leakyKP{
		"empty wrapped": {kid: "k1"},
		"bad kid":       {kid: "k.1", wrapped: []byte{1}},
		"empty kid":     {kid: "", wrapped: []byte{1}},
		"long kid":      {kid: strings.Repeat("k", 65), wrapped: []byte{1}},
		"huge wrapped":  {kid: "k1", wrapped: bytes.Repeat([]byte{1}, secrets.MaxSealedLen)},
	} {
		s, _ := secrets.NewSealer(kp)
		sealed, err := s.Seal(ctx, []byte("x"), rowA)
		if err == nil {
			if _, oerr := s.Open(ctx, sealed, rowA); oerr != nil {
				t.Errorf("%s: Seal made a value that cannot open: %v", name, oerr)
			}
			continue
		}
		if !errors.Is(err, secrets.ErrInvalidKey) {
			t.Errorf("%s: %v, want ErrInvalidKey", name, err)
		}
	}
}

// No error from parsing keys, sealing or opening holds key material, in
// any encoding.
func TestAdversarialErrorsHoldNoKeyMaterial(t *testing.T) {
	ctx := context.Background()
	// A key whose leading characters cannot be a key id (they hold + or /),
	// so that the lines below that put key text where an id goes are
	// malformed whatever the random key: a base64 prefix without those
	// characters is a well-formed id, and the parser rightly names ids.
	line := newKeys(t, "k1")
	_, enc, _ := strings.Cut(line, ":")
	for i := 0; !strings.ContainsAny(enc[:30], "+/"); i++ {
		if i == 1000 {
			t.Fatal("no key with + or / in its first 30 characters")
		}
		line = newKeys(t, "k1")
		_, enc, _ = strings.Cut(line, ":")
	}
	raw, _ := base64.StdEncoding.DecodeString(enc)
	forms := []string{enc, strings.TrimRight(enc, "="), base64.RawURLEncoding.EncodeToString(raw), fmt.Sprintf("%x", raw), string(raw)}
	var errs []error
	for _, text := range []string{
		"k1:" + enc[:20], "k1:" + enc + enc, "k1:" + enc + "\nk1:" + enc, "k 1:" + enc, "k1" + enc, "k1:" + enc + "!",
		"k1:" + enc[:len(enc)-2] + "!=", enc + ":k1", "k1:" + enc + "\n" + enc + ":k2", enc + ":" + enc,
		"k1:" + enc + "\n" + enc, "# comment\n" + enc[:30] + ":" + enc, enc + ":!!", enc[:40] + ":" + enc + "\n" + enc[:40] + ":" + enc,
	} {
		_, err := secrets.ParseKeys(text)
		if err == nil {
			t.Errorf("ParseKeys(%q) accepted", text)
			continue
		}
		errs = append(errs, err)
	}
	_, err := secrets.NewStaticKeys("k1", map[string][]byte{"k1": raw[:31]})
	errs = append(errs, err)
	s := newSealer(t, line)
	sealed, _ := s.Seal(ctx, []byte("top secret"), rowA)
	_, err = s.Open(ctx, sealed, secrets.Binding{Table: "t", Column: "c", Row: "r"})
	errs = append(errs, err)
	for _, err := range errs {
		msg := fmt.Sprint(err) + fmt.Sprintf("%+v %#v", err, err)
		for _, f := range forms {
			if len(f) >= 8 && strings.Contains(msg, f[:16]) {
				t.Fatalf("error holds key material: %v", err)
			}
		}
		if strings.Contains(msg, "top secret") {
			t.Fatalf("error holds plaintext: %v", err)
		}
	}
}
