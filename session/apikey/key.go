package apikey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"hash/crc32"
)

// Key format
//
//	civic_<id>_<secret><checksum>
//
// id is 16 characters (80 random bits), secret 52 characters (256 random
// bits from crypto/rand) and checksum 7 characters (the CRC-32 of
// everything before it), all in lower-case base32 (a-z, 2-7). A key is
// exactly KeyLen bytes.
const (
	// Prefix starts every key, so that secret scanners can match it.
	Prefix = "civic_"
	// IDLen is the length of a key's public id.
	IDLen = 16
	// SecretLen is the length of the secret part (256 bits).
	SecretLen = 52
	// checksumLen is the length of the CRC-32 checksum.
	checksumLen = 7
	// KeyLen is the length of every key.
	KeyLen = len(Prefix) + IDLen + 1 + SecretLen + checksumLen

	idStart     = len(Prefix)
	secretStart = idStart + IDLen + 1
	sumStart    = secretStart + SecretLen
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// alphabet[c] is true for the characters of lower-case base32.
var alphabet = func() (t [256]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyz234567" {
		t[c] = true
	}
	return t
}()

// Parts is a parsed key: its public id and its secret. Parse returns
// substrings of the key, so parsing allocates nothing.
type Parts struct {
	ID     string
	Secret string
}

// Parse checks a key's form and checksum without any lookup. It refuses
// a key of the wrong length (truncated or oversized) or prefix, or with a
// character outside the alphabet, with ErrMalformed, and a key whose
// checksum does not match with ErrChecksum; both wrap ErrInvalidKey. The
// error never contains the key.
func Parse(key string) (Parts, error) {
	if len(key) != KeyLen || key[:len(Prefix)] != Prefix || key[secretStart-1] != '_' {
		return Parts{}, errMalformed
	}
	var bad bool
	for _, c := range []byte(key[idStart : secretStart-1]) {
		bad = bad || !alphabet[c]
	}
	for _, c := range []byte(key[secretStart:]) {
		bad = bad || !alphabet[c]
	}
	if bad {
		return Parts{}, errMalformed
	}
	if sum := checksum(key[:sumStart]); string(sum[:]) != key[sumStart:] {
		return Parts{}, errChecksum
	}
	return Parts{ID: key[idStart : secretStart-1], Secret: key[secretStart:sumStart]}, nil
}

// ValidID reports whether id has the form of a key id.
func ValidID(id string) bool {
	if len(id) != IDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !alphabet[id[i]] {
			return false
		}
	}
	return true
}

// checksum returns the 7-character encoding of CRC-32 (IEEE) of s. It
// allocates nothing.
func checksum(s string) [checksumLen]byte {
	c := crc32.ChecksumIEEE(unsafeBytes(s))
	var out [checksumLen]byte
	// 32 bits in 7 base32 digits, most significant first (35 bits, the top
	// three zero).
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = "abcdefghijklmnopqrstuvwxyz234567"[c&31]
		c >>= 5
	}
	return out
}

// generate returns a new key and its parts.
func generate() (key string, p Parts, err error) {
	var raw [10 + 32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Parts{}, err
	}
	id := b32.EncodeToString(raw[:10])
	secret := b32.EncodeToString(raw[10:])
	return Assemble(id, secret), Parts{ID: id, Secret: secret}, nil
}

// Hasher computes the stored form of a secret: HMAC-SHA-256 under a
// server key. The secret has 256 bits of entropy, so a slow hash adds
// nothing.
type hasher struct{ key []byte }

func (h hasher) sum(secret string) [32]byte {
	m := hmac.New(sha256.New, h.key)
	m.Write(unsafeBytes(secret))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// fastSum is the digest the process cache compares on a warm
// verification: SHA-256 of the secret, computed without allocation. It is
// only ever compared with the fastSum of a secret that already passed the
// HMAC check.
func fastSum(secret string) [32]byte {
	return sha256.Sum256(unsafeBytes(secret))
}

// Assemble builds a key from an id and a secret, adding the prefix and
// checksum. It is for tests and tools that need keys of a known shape;
// keys for clients come from Manager.CreateKey.
func Assemble(id, secret string) string {
	body := Prefix + id + "_" + secret
	sum := checksum(body)
	return body + string(sum[:])
}
