package secrets

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// StaticKeys is a KeyProvider holding key-encryption keys in process
// memory: AES-256-GCM keys named by id, one of them current. The current
// key wraps; every key unwraps. Build it with [NewStaticKeys],
// [ParseKeys], [LoadKeyFile] or [KeysFromEnv].
//
// Rotation: add a new key and make it current; values sealed under the
// old key keep opening while it is listed, and [Sealer.Reseal] moves them
// to the new one. Drop the old key once [KeyID] finds no value under it.
type StaticKeys struct {
	current string
	keys    map[string]cipher.AEAD
}

// NewStaticKeys returns a provider with the given 32-byte keys; current
// names the one that wraps. The key bytes are copied.
func NewStaticKeys(current string, keys map[string][]byte) (*StaticKeys, error) {
	if _, ok := keys[current]; !ok {
		return nil, fmt.Errorf("%w: current key %q is not among the keys", ErrInvalidKey, current)
	}
	s := &StaticKeys{current: current, keys: make(map[string]cipher.AEAD, len(keys))}
	for id, k := range keys {
		if err := validKeyID(id); err != nil {
			return nil, err
		}
		if len(k) != keyLen {
			return nil, fmt.Errorf("%w: key %q has %d bytes, want %d", ErrInvalidKey, id, len(k), keyLen)
		}
		aead, err := newGCM(k)
		if err != nil {
			return nil, err
		}
		s.keys[id] = aead
	}
	return s, nil
}

// ParseKeys reads keys written as "<id>:<base64 of 32 bytes>" entries
// separated by newlines, commas or spaces; lines starting with '#' are
// comments. The last entry is the current key, so rotating means
// appending a line. Standard or URL base64, padded or not, is accepted.
func ParseKeys(text string) (*StaticKeys, error) {
	keys := map[string][]byte{}
	var current string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, e := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
			id, enc, ok := strings.Cut(e, ":")
			// An error names an entry by its id only once the id is known
			// to be one: a mistyped line may hold key material there.
			if !ok || validKeyID(id) != nil {
				return nil, fmt.Errorf("%w: entry is not <id>:<base64 key> with an id of 1 to 64 characters from [A-Za-z0-9_-]", ErrInvalidKey)
			}
			k, err := decodeKey(enc)
			if err != nil {
				return nil, fmt.Errorf("%w: key %q: not base64", ErrInvalidKey, id)
			}
			if _, dup := keys[id]; dup {
				return nil, fmt.Errorf("%w: key %q listed twice", ErrInvalidKey, id)
			}
			keys[id] = k
			current = id
		}
	}
	if current == "" {
		return nil, fmt.Errorf("%w: no keys", ErrInvalidKey)
	}
	defer func() {
		for _, k := range keys {
			clear(k)
		}
	}()
	return NewStaticKeys(current, keys)
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// LoadKeyFile reads keys in the [ParseKeys] format from a file. The file
// should be readable by the service's user only.
func LoadKeyFile(path string) (*StaticKeys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: load key file: %w", err)
	}
	defer clear(b)
	return ParseKeys(string(b))
}

// KeysFromEnv reads keys in the [ParseKeys] format from the environment
// variable name.
func KeysFromEnv(name string) (*StaticKeys, error) {
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%w: environment variable %s is not set", ErrInvalidKey, name)
	}
	return ParseKeys(v)
}

// GenerateKey returns a line for a key file: id, a colon and 32 random
// bytes in base64.
func GenerateKey(id string) (string, error) {
	if err := validKeyID(id); err != nil {
		return "", err
	}
	k := make([]byte, keyLen)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(k), nil
}

// CurrentKeyID returns the id of the key that wraps.
func (s *StaticKeys) CurrentKeyID() string { return s.current }

func wrapAAD(kid string) []byte { return []byte("civic-security/secrets/wrap/v1\x00" + kid) }

// Wrap encrypts dataKey under the current key.
func (s *StaticKeys) Wrap(_ context.Context, dataKey []byte) (string, []byte, error) {
	k := s.keys[s.current]
	nonce := make([]byte, nonceLen, nonceLen+len(dataKey)+tagLen)
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("secrets: wrap: %w", err)
	}
	return s.current, k.Seal(nonce, nonce, dataKey, wrapAAD(s.current)), nil
}

// Unwrap decrypts a data key wrapped under the key keyID.
func (s *StaticKeys) Unwrap(_ context.Context, keyID string, wrapped []byte) ([]byte, error) {
	k, ok := s.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, keyID)
	}
	if len(wrapped) < nonceLen+tagLen {
		return nil, fmt.Errorf("%w: wrapped key truncated", ErrDecrypt)
	}
	dk, err := k.Open(nil, wrapped[:nonceLen], wrapped[nonceLen:], wrapAAD(keyID))
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped key does not authenticate under %q", ErrDecrypt, keyID)
	}
	return dk, nil
}
