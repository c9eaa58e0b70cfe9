package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/civic-platform/security/session/secrets"
)

func newKeys(t testing.TB, ids ...string) string {
	t.Helper()
	var lines []string
	for _, id := range ids {
		l, err := secrets.GenerateKey(id)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

func newSealer(t testing.TB, text string) *secrets.Sealer {
	t.Helper()
	kp, err := secrets.ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	s, err := secrets.NewSealer(kp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var rowA = secrets.Binding{Table: "iam_totp", Column: "secret", Row: "user-a"}

func TestSealOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newSealer(t, newKeys(t, "k1"))
	for _, pt := range [][]byte{{}, []byte("JBSWY3DPEHPK3PXP"), bytes.Repeat([]byte{0}, 4096)} {
		sealed, err := s.Seal(ctx, pt, rowA)
		if err != nil {
			t.Fatal(err)
		}
		if len(pt) > 0 && strings.Contains(sealed, string(pt)) {
			t.Fatal("sealed value contains the plaintext")
		}
		got, err := s.Open(ctx, sealed, rowA)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, want %q", got, pt)
		}
		if kid, _ := secrets.KeyID(sealed); kid != "k1" {
			t.Fatalf("KeyID = %q, want k1", kid)
		}
	}
}

func TestSealIsRandomised(t *testing.T) {
	ctx := context.Background()
	s := newSealer(t, newKeys(t, "k1"))
	a, _ := s.Seal(ctx, []byte("same"), rowA)
	b, _ := s.Seal(ctx, []byte("same"), rowA)
	if a == b {
		t.Fatal("two seals of one value are equal: nonce or data key reused")
	}
}

// A value copied to another row, column or table does not open there.
func TestOpenRefusesAnotherRow(t *testing.T) {
	ctx := context.Background()
	s := newSealer(t, newKeys(t, "k1"))
	sealed, err := s.Seal(ctx, []byte("secret"), rowA)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []secrets.Binding{
		{Table: "iam_totp", Column: "secret", Row: "user-b"},
		{Table: "iam_totp", Column: "other", Row: "user-a"},
		{Table: "iam_keys", Column: "secret", Row: "user-a"},
		// length prefixes keep "a"+"bc" apart from "ab"+"c"
		{Table: "iam_totps", Column: "ecret", Row: "user-a"},
	} {
		if _, err := s.Open(ctx, sealed, b); !errors.Is(err, secrets.ErrDecrypt) {
			t.Errorf("Open for %+v: err = %v, want ErrDecrypt", b, err)
		}
	}
}

func TestOpenRefusesTamperingAndTruncation(t *testing.T) {
	ctx := context.Background()
	s := newSealer(t, newKeys(t, "k1"))
	sealed, err := s.Seal(ctx, []byte("secret"), rowA)
	if err != nil {
		t.Fatal(err)
	}
	// Every truncation is refused, typed.
	for n := 0; n < len(sealed); n++ {
		_, err := s.Open(ctx, sealed[:n], rowA)
		if !errors.Is(err, secrets.ErrMalformed) && !errors.Is(err, secrets.ErrDecrypt) && !errors.Is(err, secrets.ErrUnknownKey) {
			t.Fatalf("Open(truncated to %d) err = %v", n, err)
		}
	}
	// Every single-character change is refused.
	for i := range sealed {
		b := []byte(sealed)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if _, err := s.Open(ctx, string(b), rowA); err == nil {
			t.Fatalf("Open accepted a change at byte %d", i)
		}
	}
	if _, err := s.Open(ctx, strings.Repeat("A", secrets.MaxSealedLen+1), rowA); !errors.Is(err, secrets.ErrMalformed) {
		t.Fatalf("oversized: err = %v, want ErrMalformed", err)
	}
}

func TestWrongKeyID(t *testing.T) {
	ctx := context.Background()
	text := newKeys(t, "k1", "k2")
	s := newSealer(t, text) // k2 current
	sealed, err := s.Seal(ctx, []byte("secret"), rowA)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(sealed, ".", 3)
	// A key id the provider does not hold.
	unknown := parts[0] + ".k9." + parts[2]
	if _, err := s.Open(ctx, unknown, rowA); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("unknown key id: err = %v, want ErrUnknownKey", err)
	}
	// A key id the provider holds, but not the one that wrapped.
	other := parts[0] + ".k1." + parts[2]
	if _, err := s.Open(ctx, other, rowA); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("other key id: err = %v, want ErrDecrypt", err)
	}
}

// Rotation: a new current key seals; values under the old key still open
// while the old key is listed, Reseal moves them, and once the old key is
// dropped only resealed values open.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	k1 := newKeys(t, "k1")
	old := newSealer(t, k1)
	sealed, err := old.Seal(ctx, []byte("secret"), rowA)
	if err != nil {
		t.Fatal(err)
	}
	k2 := newKeys(t, "k2")
	both := newSealer(t, k1+"\n"+k2)
	if got, err := both.Open(ctx, sealed, rowA); err != nil || string(got) != "secret" {
		t.Fatalf("old value under rotated provider: %q, %v", got, err)
	}
	resealed, err := both.Reseal(ctx, sealed, rowA)
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := secrets.KeyID(resealed); kid != "k2" {
		t.Fatalf("resealed under %q, want k2", kid)
	}
	onlyNew := newSealer(t, k2)
	if _, err := onlyNew.Open(ctx, sealed, rowA); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("retired key: err = %v, want ErrUnknownKey", err)
	}
	if got, err := onlyNew.Open(ctx, resealed, rowA); err != nil || string(got) != "secret" {
		t.Fatalf("resealed value: %q, %v", got, err)
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	s := newSealer(t, newKeys(t, "k1"))
	for _, b := range []secrets.Binding{{}, {Table: "t", Column: "c"}, {Table: "t", Row: "r"}, {Column: "c", Row: "r"}, {Table: strings.Repeat("t", 256), Column: "c", Row: "r"}} {
		if _, err := s.Seal(ctx, []byte("x"), b); !errors.Is(err, secrets.ErrInvalidBinding) {
			t.Errorf("Seal with %+v: err = %v", b, err)
		}
		if _, err := s.Open(ctx, "v1.k1.AA.AA", b); !errors.Is(err, secrets.ErrInvalidBinding) {
			t.Errorf("Open with %+v: err = %v", b, err)
		}
	}
	for _, text := range []string{"", "k1", "k1:AAAA", "bad id:" + strings.Repeat("A", 43), "# only a comment"} {
		if _, err := secrets.ParseKeys(text); !errors.Is(err, secrets.ErrInvalidKey) {
			t.Errorf("ParseKeys(%q): err = %v, want ErrInvalidKey", text, err)
		}
	}
	if _, err := secrets.ParseKeys(newKeys(t, "k1") + "\n" + newKeys(t, "k1")); !errors.Is(err, secrets.ErrInvalidKey) {
		t.Errorf("duplicate id: err = %v", err)
	}
	if _, err := secrets.NewStaticKeys("k1", map[string][]byte{"k1": make([]byte, 16)}); !errors.Is(err, secrets.ErrInvalidKey) {
		t.Errorf("16-byte key: err = %v", err)
	}
	if _, err := secrets.NewSealer(nil); err == nil {
		t.Error("NewSealer(nil) succeeded")
	}
}

func TestKeysFromEnv(t *testing.T) {
	t.Setenv("CIVIC_TEST_KEYS", strings.ReplaceAll(newKeys(t, "a", "b"), "\n", ","))
	kp, err := secrets.KeysFromEnv("CIVIC_TEST_KEYS")
	if err != nil {
		t.Fatal(err)
	}
	if kp.CurrentKeyID() != "b" {
		t.Fatalf("current = %q, want the last entry b", kp.CurrentKeyID())
	}
	if _, err := secrets.KeysFromEnv("CIVIC_TEST_KEYS_UNSET"); !errors.Is(err, secrets.ErrInvalidKey) {
		t.Fatalf("unset: err = %v", err)
	}
}

// FuzzOpen feeds arbitrary strings to the sealed-value decoder: it never
// panics, and anything it accepts must be exactly what was sealed.
func FuzzOpen(f *testing.F) {
	ctx := context.Background()
	s := newSealer(f, newKeys(f, "k1"))
	good, err := s.Seal(ctx, []byte("JBSWY3DPEHPK3PXP"), rowA)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, good[:len(good)-3], "", "v1", "v1...", "v1.k1.AA.AA", "v2" + good[2:], "v1.k1." + strings.Repeat("A", 100) + ".AAAA", good + "."} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		pt, err := s.Open(ctx, in, rowA)
		if err != nil {
			if !errors.Is(err, secrets.ErrMalformed) && !errors.Is(err, secrets.ErrDecrypt) && !errors.Is(err, secrets.ErrUnknownKey) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if string(pt) != "JBSWY3DPEHPK3PXP" {
			t.Fatalf("opened a forged value %q", pt)
		}
	})
}
