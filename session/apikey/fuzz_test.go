package apikey_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/civic-platform/security/session/apikey"
)

// FuzzParse: Parse never panics; it accepts exactly the keys of the
// documented shape whose checksum matches, and every refusal is a typed
// ErrInvalidKey that does not echo the input.
func FuzzParse(f *testing.F) {
	good := apikey.Assemble(strings.Repeat("a", apikey.IDLen), strings.Repeat("b", apikey.SecretLen))
	for _, s := range []string{"", good, good[:len(good)-1], good + "a", "civic_", strings.ToUpper(good),
		strings.Replace(good, "_", "-", 1), apikey.Assemble("0123456789abcdef", strings.Repeat("7", apikey.SecretLen)),
		"civic_" + strings.Repeat("\xff", apikey.KeyLen-6), good[:30] + "é" + good[32:]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		p, err := apikey.Parse(key)
		if err != nil {
			if !errors.Is(err, apikey.ErrInvalidKey) || !(errors.Is(err, apikey.ErrMalformed) || errors.Is(err, apikey.ErrChecksum)) {
				t.Fatalf("untyped error %v", err)
			}
			if len(key) > 10 && strings.Contains(err.Error(), key) {
				t.Fatal("error echoes the key")
			}
			return
		}
		if len(key) != apikey.KeyLen || !strings.HasPrefix(key, apikey.Prefix) || !apikey.ValidID(p.ID) || len(p.Secret) != apikey.SecretLen {
			t.Fatalf("accepted %q as %+v", key, p)
		}
		if apikey.Assemble(p.ID, p.Secret) != key {
			t.Fatalf("accepted %q with a checksum that does not match", key)
		}
	})
}
