package secrets

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
)

// SealPrivateKey seals a private key (such as a session signing key:
// ed25519.PrivateKey or *ecdsa.PrivateKey) in PKCS #8 form for binding b,
// so that a store can keep signing keys encrypted at rest.
func (s *Sealer) SealPrivateKey(ctx context.Context, key crypto.Signer, b Binding) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("secrets: seal private key: %w", err)
	}
	defer clear(der)
	return s.Seal(ctx, der, b)
}

// OpenPrivateKey opens a key sealed by SealPrivateKey for binding b. Its
// errors are Open's, and ErrDecrypt if the plaintext is not a PKCS #8 key
// that can sign.
func (s *Sealer) OpenPrivateKey(ctx context.Context, sealed string, b Binding) (crypto.Signer, error) {
	der, err := s.Open(ctx, sealed, b)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("secrets: open private key: %w: not a PKCS #8 key", ErrDecrypt)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("secrets: open private key: %w: key cannot sign", ErrDecrypt)
	}
	return signer, nil
}
