package secrets_test

import (
	"context"
	"fmt"

	"github.com/civic-platform/security/session/secrets"
)

func Example() {
	ctx := context.Background()
	// In production: secrets.LoadKeyFile("/etc/civic/keys") or
	// secrets.KeysFromEnv("CIVIC_KEYS"); here a key made for the example.
	line, _ := secrets.GenerateKey("2026-11")
	kp, _ := secrets.ParseKeys(line)
	s, _ := secrets.NewSealer(kp)

	row := secrets.Binding{Table: "iam_totp", Column: "secret", Row: "u-1001"}
	sealed, _ := s.Seal(ctx, []byte("JBSWY3DPEHPK3PXP"), row)
	kid, _ := secrets.KeyID(sealed)
	fmt.Println("sealed under", kid)

	plain, _ := s.Open(ctx, sealed, row)
	fmt.Println(string(plain))

	_, err := s.Open(ctx, sealed, secrets.Binding{Table: "iam_totp", Column: "secret", Row: "u-1002"})
	fmt.Println(err)
	// Output:
	// sealed under 2026-11
	// JBSWY3DPEHPK3PXP
	// secrets: open: secrets: cannot open sealed value
}
