package audit_test

import (
	"encoding/hex"
	"fmt"

	"github.com/civic-platform/security/internal/audit"
)

// ExampleNewID makes event ids: 128 random bits in hex, never the same
// twice.
func ExampleNewID() {
	a, b := audit.NewID(), audit.NewID()
	raw, err := hex.DecodeString(a)
	fmt.Println(len(raw)*8, err, a != b)
	// Output:
	// 128 <nil> true
}
