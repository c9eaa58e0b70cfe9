package audit

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns a random 128-bit event id in hex.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("audit: crypto/rand failed: " + err.Error()) // never on supported platforms
	}
	return hex.EncodeToString(b[:])
}
