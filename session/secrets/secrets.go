package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrMalformed is wrapped by errors for input that is not a sealed
	// value: wrong version, wrong number of parts, bad base64, truncated,
	// or larger than [MaxSealedLen].
	ErrMalformed = errors.New("secrets: malformed sealed value")
	// ErrUnknownKey is wrapped when the key provider does not hold the key
	// id a value was sealed under (retired or never known).
	ErrUnknownKey = errors.New("secrets: unknown key id")
	// ErrDecrypt is wrapped when authentication fails: the value was
	// altered, sealed for another row, or its key id names another key.
	ErrDecrypt = errors.New("secrets: cannot open sealed value")
	// ErrInvalidBinding is wrapped when a Binding has an empty part or a
	// part longer than 255 bytes.
	ErrInvalidBinding = errors.New("secrets: invalid binding")
	// ErrInvalidKey is wrapped by errors about key material and key ids
	// given to a provider: wrong length, bad characters.
	ErrInvalidKey = errors.New("secrets: invalid key")
)

// MaxSealedLen is the longest sealed string Open accepts (64 KiB). Longer
// input is refused before any decoding.
const MaxSealedLen = 64 << 10

// MaxPlaintextLen is the largest value Seal accepts.
const MaxPlaintextLen = 32 << 10

const (
	version  = "v1"
	keyLen   = 32 // AES-256
	nonceLen = 12
	tagLen   = 16
)

// KeyProvider wraps and unwraps data keys under key-encryption keys it
// holds. An HSM or a cloud KMS implements it without revealing its keys.
// Both methods must be safe for concurrent use.
type KeyProvider interface {
	// Wrap encrypts dataKey under the provider's current key and returns
	// that key's id (1 to 64 characters from [A-Za-z0-9_-]) and the
	// wrapped bytes.
	Wrap(ctx context.Context, dataKey []byte) (keyID string, wrapped []byte, err error)
	// Unwrap reverses Wrap with the key named keyID. It returns an error
	// wrapping ErrUnknownKey if it does not hold that key, and ErrDecrypt
	// if wrapped does not authenticate under it.
	Unwrap(ctx context.Context, keyID string, wrapped []byte) ([]byte, error)
}

// Binding names the place a sealed value belongs to. It is authenticated
// with the value: the value opens only for the same binding.
type Binding struct {
	Table  string // "iam_totp"
	Column string // "secret"
	Row    string // the row's primary key, e.g. the user id
}

func (b Binding) validate() error {
	for _, p := range [...]string{b.Table, b.Column, b.Row} {
		if p == "" || len(p) > 255 {
			return fmt.Errorf("%w: table, column and row must each be 1 to 255 bytes", ErrInvalidBinding)
		}
	}
	return nil
}

// aad is the associated data: a domain label, the key id and the binding,
// each length-prefixed so that no two different tuples encode alike.
func (b Binding) aad(keyID string) []byte {
	out := make([]byte, 0, 32+len(keyID)+len(b.Table)+len(b.Column)+len(b.Row)+8)
	out = append(out, "civic-security/secrets/v1"...)
	for _, p := range [...]string{keyID, b.Table, b.Column, b.Row} {
		out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
		out = append(out, p...)
	}
	return out
}

// Sealer seals and opens values with data keys wrapped by a KeyProvider.
// It is safe for concurrent use.
type Sealer struct {
	kp KeyProvider
}

// NewSealer returns a Sealer over kp.
func NewSealer(kp KeyProvider) (*Sealer, error) {
	if kp == nil {
		return nil, errors.New("secrets: NewSealer: nil KeyProvider")
	}
	return &Sealer{kp: kp}, nil
}

// b64 is strict: the padding bits must be zero, so one sealed value has one
// spelling.
var b64 = base64.RawURLEncoding.Strict()

// Seal encrypts plaintext for binding b under a fresh data key wrapped by
// the provider's current key. A provider error is returned wrapped; a key
// id or wrapped key from the provider that Open could not read back (bad
// characters, empty, too long) is an error wrapping ErrInvalidKey.
func (s *Sealer) Seal(ctx context.Context, plaintext []byte, b Binding) (string, error) {
	if err := b.validate(); err != nil {
		return "", err
	}
	if len(plaintext) > MaxPlaintextLen {
		return "", fmt.Errorf("secrets: seal: value longer than %d bytes", MaxPlaintextLen)
	}
	dk := make([]byte, keyLen)
	if _, err := rand.Read(dk); err != nil {
		return "", fmt.Errorf("secrets: seal: %w", err)
	}
	defer clear(dk)
	kid, wrapped, err := s.kp.Wrap(ctx, dk)
	if err != nil {
		return "", fmt.Errorf("secrets: seal: wrap data key: %w", err)
	}
	if err := validKeyID(kid); err != nil {
		return "", fmt.Errorf("secrets: seal: provider returned %w", err)
	}
	aead, err := newGCM(dk)
	if err != nil {
		return "", err
	}
	buf := make([]byte, nonceLen, nonceLen+len(plaintext)+tagLen)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("secrets: seal: %w", err)
	}
	buf = aead.Seal(buf, buf[:nonceLen], plaintext, b.aad(kid))
	out := version + "." + kid + "." + b64.EncodeToString(wrapped) + "." + b64.EncodeToString(buf)
	// Store only what Open can read back: a provider that returns an
	// empty or oversized wrapped key is refused now, not discovered when
	// the value is needed.
	if _, err := parse(out); err != nil {
		return "", fmt.Errorf("secrets: seal: provider returned %w: unusable wrapped key (%w)", ErrInvalidKey, err)
	}
	return out, nil
}

// Open decrypts a value sealed for binding b. It fails with an error
// wrapping ErrMalformed, ErrUnknownKey, ErrDecrypt or ErrInvalidBinding.
func (s *Sealer) Open(ctx context.Context, sealed string, b Binding) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	p, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	dk, err := s.kp.Unwrap(ctx, p.kid, p.wrapped)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrDecrypt) {
			return nil, fmt.Errorf("secrets: open: %w", err)
		}
		return nil, fmt.Errorf("secrets: open: unwrap data key: %w", err)
	}
	defer clear(dk)
	if len(dk) != keyLen {
		return nil, fmt.Errorf("secrets: open: %w: data key of %d bytes", ErrDecrypt, len(dk))
	}
	aead, err := newGCM(dk)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, p.box[:nonceLen], p.box[nonceLen:], b.aad(p.kid))
	if err != nil {
		return nil, fmt.Errorf("secrets: open: %w", ErrDecrypt)
	}
	return pt, nil
}

// Reseal opens a value and seals it again under the provider's current
// key, for the same binding. Use it to move values off a key before the
// key is retired.
func (s *Sealer) Reseal(ctx context.Context, sealed string, b Binding) (string, error) {
	pt, err := s.Open(ctx, sealed, b)
	if err != nil {
		return "", err
	}
	defer clear(pt)
	return s.Seal(ctx, pt, b)
}

// KeyID returns the id of the key a value was sealed under, without
// opening it (to find the rows still sealed under a key being retired).
func KeyID(sealed string) (string, error) {
	p, err := parse(sealed)
	if err != nil {
		return "", err
	}
	return p.kid, nil
}

type parts struct {
	kid     string
	wrapped []byte
	box     []byte // nonce || ciphertext || tag
}

func parse(sealed string) (parts, error) {
	if len(sealed) > MaxSealedLen {
		return parts{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxSealedLen)
	}
	f := strings.Split(sealed, ".")
	if len(f) != 4 || f[0] != version {
		return parts{}, fmt.Errorf("%w: want v1.<key id>.<wrapped key>.<ciphertext>", ErrMalformed)
	}
	if err := validKeyID(f[1]); err != nil {
		return parts{}, fmt.Errorf("%w: bad key id", ErrMalformed)
	}
	wrapped, err := b64.DecodeString(f[2])
	if err != nil || len(wrapped) == 0 {
		return parts{}, fmt.Errorf("%w: bad wrapped key", ErrMalformed)
	}
	box, err := b64.DecodeString(f[3])
	if err != nil || len(box) < nonceLen+tagLen {
		return parts{}, fmt.Errorf("%w: bad or truncated ciphertext", ErrMalformed)
	}
	return parts{kid: f[1], wrapped: wrapped, box: box}, nil
}

func validKeyID(kid string) error {
	if kid == "" || len(kid) > 64 {
		return fmt.Errorf("%w: key id must be 1 to 64 characters", ErrInvalidKey)
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: key id may hold only [A-Za-z0-9_-]", ErrInvalidKey)
		}
	}
	return nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return aead, nil
}
