package password_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/civic-platform/security/session/password"
)

func Example() {
	ctx := context.Background()
	h, _ := password.NewHasher() // argon2id, m=19 MiB, t=2, p=1

	fmt.Println(password.Policy{}.Check("Summer2024!"))
	enc, _ := h.Hash(ctx, "d\u00e9j\u00e0 vu at city hall") // NFC
	fmt.Println(enc[:30])

	_, err := h.Verify(ctx, "de\u0301ja\u0300 vu at city hall", enc) // NFD: same password
	fmt.Println(err)
	_, err = h.Verify(ctx, "deja vu at city hall", enc)
	fmt.Println(errors.Is(err, password.ErrMismatch))
	// Output:
	// password: too weak: too short (minimum 12 characters)
	// $argon2id$v=19$m=19456,t=2,p=1
	// <nil>
	// true
}
