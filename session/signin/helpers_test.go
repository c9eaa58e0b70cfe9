package signin_test

import (
	"testing"

	"github.com/civic-platform/security/session/secrets"
)

func mustSealer(t testing.TB) *secrets.Sealer {
	t.Helper()
	line, err := secrets.GenerateKey("k")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := secrets.ParseKeys(line)
	if err != nil {
		t.Fatal(err)
	}
	s, err := secrets.NewSealer(kp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
