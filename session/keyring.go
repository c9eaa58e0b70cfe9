package session

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Algorithm is a token signing algorithm. Each key is pinned to one.
type Algorithm string

// The supported algorithms. Nothing else is accepted, in particular not
// "none" or any HMAC algorithm.
const (
	EdDSA Algorithm = "EdDSA" // Ed25519
	ES256 Algorithm = "ES256" // ECDSA P-256 with SHA-256
)

// SigningKey is one key of a [Keyring]. Private may be nil in a process
// that only verifies.
type SigningKey struct {
	// ID is the kid written in the header of the tokens the key signs:
	// 1 to 64 characters from [A-Za-z0-9._-].
	ID string
	// Alg is the one algorithm this key signs and verifies with.
	Alg Algorithm
	// Private is an ed25519.PrivateKey (EdDSA) or an *ecdsa.PrivateKey on
	// P-256 (ES256); nil for a verify-only key.
	Private crypto.Signer
	// Public is the verification key: ed25519.PublicKey or
	// *ecdsa.PublicKey. Taken from Private when nil.
	Public crypto.PublicKey
	// Retires is when the key stops verifying: tokens with this kid are
	// refused from then on. Zero: not scheduled.
	Retires time.Time
}

// GenerateKey makes a new key for alg with the given id.
func GenerateKey(alg Algorithm, id string) (SigningKey, error) {
	k := SigningKey{ID: id, Alg: alg}
	switch alg {
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return SigningKey{}, fmt.Errorf("session: generate key: %w", err)
		}
		k.Private = priv
	case ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return SigningKey{}, fmt.Errorf("session: generate key: %w", err)
		}
		k.Private = priv
	default:
		return SigningKey{}, fmt.Errorf("%w: algorithm %q", ErrInvalidInput, alg)
	}
	return k.check()
}

// check validates k and fills Public from Private.
func (k SigningKey) check() (SigningKey, error) {
	if !validKid(k.ID) {
		return SigningKey{}, fmt.Errorf("%w: key id must be 1-64 characters of [A-Za-z0-9._-]", ErrInvalidInput)
	}
	if k.Public == nil && k.Private != nil {
		k.Public = k.Private.Public()
	}
	switch k.Alg {
	case EdDSA:
		pub, ok := k.Public.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize {
			return SigningKey{}, fmt.Errorf("%w: key %s: EdDSA needs an ed25519 key", ErrInvalidInput, k.ID)
		}
		if k.Private != nil {
			if _, ok := k.Private.(ed25519.PrivateKey); !ok {
				return SigningKey{}, fmt.Errorf("%w: key %s: EdDSA needs an ed25519 key", ErrInvalidInput, k.ID)
			}
		}
	case ES256:
		pub, ok := k.Public.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			return SigningKey{}, fmt.Errorf("%w: key %s: ES256 needs a P-256 ECDSA key", ErrInvalidInput, k.ID)
		}
		if k.Private != nil {
			if _, ok := k.Private.(*ecdsa.PrivateKey); !ok {
				return SigningKey{}, fmt.Errorf("%w: key %s: ES256 needs a P-256 ECDSA key", ErrInvalidInput, k.ID)
			}
		}
	default:
		return SigningKey{}, fmt.Errorf("%w: key %s: algorithm %q", ErrInvalidInput, k.ID, k.Alg)
	}
	if k.Private != nil && !k.Public.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Private.Public()) {
		return SigningKey{}, fmt.Errorf("%w: key %s: public key does not match the private key", ErrInvalidInput, k.ID)
	}
	return k, nil
}

func validKid(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Keyring holds the keys that sign and verify session tokens, by kid. The
// newest key added with [Keyring.Rotate] (or the first given to
// [NewKeyring]) signs; every key verifies until its retirement time. A
// token with an unknown or retired kid is refused.
//
// A Keyring is safe for concurrent use: readers see an immutable set of
// keys swapped atomically on each change.
type Keyring struct {
	mu  sync.Mutex // serialises writers
	set atomic.Pointer[keySet]
}

type keySet struct {
	signer string // kid of the signing key
	keys   map[string]SigningKey
}

// NewKeyring returns a keyring holding keys; the first signs. Each key must
// be valid and ids must be distinct. A process that only verifies may give
// keys without their private half; Create then fails.
func NewKeyring(keys ...SigningKey) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: NewKeyring needs a key", ErrInvalidInput)
	}
	s := &keySet{keys: make(map[string]SigningKey, len(keys))}
	for i, k := range keys {
		k, err := k.check()
		if err != nil {
			return nil, err
		}
		if _, dup := s.keys[k.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate key id %s", ErrInvalidInput, k.ID)
		}
		if i == 0 {
			s.signer = k.ID
		}
		s.keys[k.ID] = k
	}
	r := &Keyring{}
	r.set.Store(s)
	return r, nil
}

// Rotate makes next the signing key and schedules the previous signing key
// to retire at retireOld (zero, or a time after a retirement already
// scheduled, leaves its retirement as it was). Tokens
// signed with the old key verify until then, so sessions survive the
// rotation; set retireOld no earlier than now plus the longest session
// lifetime for that.
func (r *Keyring) Rotate(next SigningKey, retireOld time.Time) error {
	next, err := next.check()
	if err != nil {
		return err
	}
	if next.Private == nil {
		return fmt.Errorf("%w: the new signing key %s has no private key", ErrInvalidInput, next.ID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.set.Load()
	if _, dup := cur.keys[next.ID]; dup {
		return fmt.Errorf("%w: key id %s already in the keyring", ErrInvalidInput, next.ID)
	}
	s := cur.clone()
	if old, ok := s.keys[s.signer]; ok && !retireOld.IsZero() && (old.Retires.IsZero() || retireOld.Before(old.Retires)) {
		old.Retires = retireOld
		s.keys[old.ID] = old
	}
	s.keys[next.ID] = next
	s.signer = next.ID
	r.set.Store(s)
	return nil
}

// Retire sets when key id stops verifying. A retirement can be brought
// forward but never cleared (a zero at) or postponed, so that a key once
// retired never accepts tokens again. Retiring the signing key is refused:
// rotate first.
func (r *Keyring) Retire(id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("%w: a retirement needs a time", ErrInvalidInput)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.set.Load()
	k, ok := cur.keys[id]
	if !ok {
		return fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	if id == cur.signer {
		return fmt.Errorf("%w: key %s is the signing key; rotate first", ErrInvalidInput, id)
	}
	if !k.Retires.IsZero() && at.After(k.Retires) {
		return fmt.Errorf("%w: key %s: a retirement can only be brought forward", ErrInvalidInput, id)
	}
	s := cur.clone()
	k.Retires = at
	s.keys[id] = k
	r.set.Store(s)
	return nil
}

// Keys returns the keys' public halves (Private is nil), for publishing
// or for a verify-only process.
func (r *Keyring) Keys() []SigningKey {
	s := r.set.Load()
	out := make([]SigningKey, 0, len(s.keys))
	for _, k := range s.keys {
		k.Private = nil
		out = append(out, k)
	}
	return out
}

// SigningKeyID returns the kid of the key that signs new tokens.
func (r *Keyring) SigningKeyID() string { return r.set.Load().signer }

func (s *keySet) clone() *keySet {
	n := &keySet{signer: s.signer, keys: make(map[string]SigningKey, len(s.keys)+1)}
	for id, k := range s.keys {
		n.keys[id] = k
	}
	return n
}

// verifier returns the key for kid if it verifies at now.
func (r *Keyring) verifier(kid string, now time.Time) (SigningKey, bool) {
	k, ok := r.set.Load().keys[kid]
	if !ok || (!k.Retires.IsZero() && !now.Before(k.Retires)) {
		return SigningKey{}, false
	}
	return k, true
}

// signer returns the signing key.
func (r *Keyring) signer() SigningKey {
	s := r.set.Load()
	return s.keys[s.signer]
}
