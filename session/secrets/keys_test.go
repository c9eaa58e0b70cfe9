package secrets_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/civic-platform/security/session/secrets"
)

func TestSealPrivateKey(t *testing.T) {
	ctx := context.Background()
	s := newSealer(t, newKeys(t, "k1"))
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	row := secrets.Binding{Table: "iam_signing_keys", Column: "private", Row: "sess-2026-11"}
	sealedEd, err := s.SealPrivateKey(ctx, ed, row)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.OpenPrivateKey(ctx, sealedEd, row)
	if err != nil || !ed.Equal(got) {
		t.Fatalf("ed25519 round trip: %v", err)
	}
	sealedEC, err := s.SealPrivateKey(ctx, ec, row)
	if err != nil {
		t.Fatal(err)
	}
	gotEC, err := s.OpenPrivateKey(ctx, sealedEC, row)
	if err != nil || !ec.Equal(gotEC) {
		t.Fatalf("ecdsa round trip: %v", err)
	}
	other := row
	other.Row = "sess-2026-12"
	if _, err := s.OpenPrivateKey(ctx, sealedEd, other); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("key moved to another row: %v", err)
	}
	notKey, _ := s.Seal(ctx, []byte("not a key"), row)
	if _, err := s.OpenPrivateKey(ctx, notKey, row); !errors.Is(err, secrets.ErrDecrypt) {
		t.Fatalf("not a key: %v", err)
	}
}
