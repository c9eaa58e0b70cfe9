package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

var (
	// ErrMalformedHash is wrapped by errors for a stored hash that is not a
	// PHC-encoded argon2id hash this package can verify, or whose
	// parameters are outside the accepted bounds.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrMismatch is returned by Verify when the password is wrong.
	ErrMismatch = errors.New("password: mismatch")
)

// Params are argon2id's cost parameters.
type Params struct {
	// Memory in KiB.
	Memory uint32
	// Time is the number of passes.
	Time uint32
	// Threads is the degree of parallelism.
	Threads uint8
	// SaltLen and KeyLen in bytes.
	SaltLen uint32
	KeyLen  uint32
}

// OWASP is the OWASP Password Storage Cheat Sheet's first argon2id
// configuration: 19 MiB of memory, 2 passes, 1 thread (16-byte salt,
// 32-byte key). It is the default.
var OWASP = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters read from a stored hash, so that a tampered row
// cannot make one verification take gigabytes or minutes.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 16
	maxThreads = 16
	minSalt    = 8
	maxSalt    = 64
	minKey     = 16
	maxKey     = 64
	maxEncoded = 512
)

func (p Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("%w: t=%d outside 1..%d", ErrMalformedHash, p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("%w: p=%d outside 1..%d", ErrMalformedHash, p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("%w: m=%d outside %d..%d", ErrMalformedHash, p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.SaltLen < minSalt || p.SaltLen > maxSalt:
		return fmt.Errorf("%w: salt of %d bytes", ErrMalformedHash, p.SaltLen)
	case p.KeyLen < minKey || p.KeyLen > maxKey:
		return fmt.Errorf("%w: key of %d bytes", ErrMalformedHash, p.KeyLen)
	}
	return nil
}

// weakerThan reports whether a hash made with p should be remade with q.
func (p Params) weakerThan(q Params) bool {
	return p.Memory < q.Memory || p.Time < q.Time || p.KeyLen < q.KeyLen || p.SaltLen < q.SaltLen
}

// Hasher hashes and verifies passwords with argon2id. It lets at most a
// fixed number of hashes run at once (each holds Params.Memory KiB), so
// that a burst of sign-in attempts queues instead of exhausting memory.
// It is safe for concurrent use.
type Hasher struct {
	p     Params
	sem   chan struct{}
	dummy string
}

// Option configures a Hasher.
type Option func(*Hasher)

// WithParams sets the cost of new hashes (default [OWASP]). Hashes made
// with weaker parameters still verify, and [Result.Rehash] says to
// replace them.
func WithParams(p Params) Option { return func(h *Hasher) { h.p = p } }

// WithConcurrency caps the hashes running at once at n (default
// GOMAXPROCS). Memory held by hashing stays below n × Params.Memory.
func WithConcurrency(n int) Option {
	return func(h *Hasher) {
		if n >= 1 {
			h.sem = make(chan struct{}, n)
		}
	}
}

// NewHasher returns a Hasher, after computing one hash of a random
// password for [Hasher.VerifyDummy]. It fails if the parameters are outside the
// bounds a stored hash may carry, or weaker than 8 MiB and 1 pass.
func NewHasher(opts ...Option) (*Hasher, error) {
	h := &Hasher{p: OWASP}
	for _, o := range opts {
		o(h)
	}
	if h.sem == nil {
		h.sem = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	}
	if err := h.p.validate(); err != nil {
		return nil, fmt.Errorf("password: NewHasher: %w", err)
	}
	if h.p.Memory < 8*1024 {
		return nil, errors.New("password: NewHasher: memory below 8 MiB")
	}
	// The dummy hash is made now, not on the first unknown account, so
	// that no sign-in pays for it.
	var r [32]byte
	salt := make([]byte, h.p.SaltLen)
	if _, err := rand.Read(r[:]); err != nil {
		return nil, fmt.Errorf("password: NewHasher: %w", err)
	}
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("password: NewHasher: %w", err)
	}
	h.dummy = encode(h.p, salt, argon2.IDKey(r[:], salt, h.p.Time, h.p.Memory, h.p.Threads, h.p.KeyLen))
	return h, nil
}

// Params returns the parameters of new hashes.
func (h *Hasher) Params() Params { return h.p }

// Concurrency returns the cap on hashes running at once.
func (h *Hasher) Concurrency() int { return cap(h.sem) }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("password: waiting to hash: %w", context.Cause(ctx))
	}
}

func (h *Hasher) release() { <-h.sem }

func (h *Hasher) key(ctx context.Context, pw []byte, salt []byte, p Params) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.release()
	return argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// Hash normalises pw (see [Normalize]) and returns its PHC-encoded
// argon2id hash:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with salt and key in unpadded standard base64. It does not apply a
// [Policy]; check one first when setting a password.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	n, err := Normalize(pw)
	if err != nil {
		return "", err
	}
	salt := make([]byte, h.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	k, err := h.key(ctx, []byte(n), salt, h.p)
	if err != nil {
		return "", err
	}
	return encode(h.p, salt, k), nil
}

// Result is the outcome of a successful Verify.
type Result struct {
	// Rehash is true when the stored hash was made with weaker parameters
	// than the Hasher's: store a fresh Hash of the same password.
	Rehash bool
}

// Verify reports whether pw matches encoded. A wrong password returns
// ErrMismatch; a stored hash that cannot be parsed, an error wrapping
// ErrMalformedHash; a password that cannot be normalised, the
// normalisation error. The key comparison takes constant time.
func (h *Hasher) Verify(ctx context.Context, pw, encoded string) (Result, error) {
	p, salt, want, err := ParseHash(encoded)
	if err != nil {
		return Result{}, err
	}
	n, err := Normalize(pw)
	if err != nil {
		return Result{}, err
	}
	got, err := h.key(ctx, []byte(n), salt, p)
	if err != nil {
		return Result{}, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return Result{}, ErrMismatch
	}
	return Result{Rehash: p.weakerThan(h.p)}, nil
}

// VerifyDummy does the work of Verify against a hash of a random password
// made with the Hasher's parameters, and returns ErrMismatch. A sign-in
// for an unknown account calls it so that it takes as long as one for a
// known account with a wrong password.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) error {
	if _, err := h.Verify(ctx, pw, h.dummy); err != nil && !errors.Is(err, ErrMismatch) {
		return err
	}
	return ErrMismatch
}

var b64 = base64.RawStdEncoding.Strict()

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// ParseHash decodes a PHC-encoded argon2id hash into its parameters, salt
// and key. It accepts exactly the form Hash writes (version 19, the
// parameters in the order m, t, p, canonical decimal and base64) and
// parameters within fixed bounds (memory up to 1 GiB, up to 16 passes and
// threads, salt 8–64 bytes, key 16–64 bytes); anything else is an error
// wrapping ErrMalformedHash.
func ParseHash(encoded string) (Params, []byte, []byte, error) {
	var p Params
	if len(encoded) > maxEncoded {
		return p, nil, nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedHash, maxEncoded)
	}
	f := strings.Split(encoded, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: want $argon2id$v=19$m=..,t=..,p=..$salt$key", ErrMalformedHash)
	}
	kv := strings.Split(f[3], ",")
	if len(kv) != 3 {
		return p, nil, nil, fmt.Errorf("%w: want m, t and p", ErrMalformedHash)
	}
	var vals [3]uint32
	for i, name := range [3]string{"m", "t", "p"} {
		k, v, ok := strings.Cut(kv[i], "=")
		if !ok || k != name {
			return p, nil, nil, fmt.Errorf("%w: want parameter %s", ErrMalformedHash, name)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || strconv.FormatUint(n, 10) != v {
			return p, nil, nil, fmt.Errorf("%w: parameter %s is not a canonical number", ErrMalformedHash, name)
		}
		vals[i] = uint32(n)
	}
	salt, err := b64.DecodeString(f[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("%w: salt is not base64", ErrMalformedHash)
	}
	key, err := b64.DecodeString(f[5])
	if err != nil {
		return p, nil, nil, fmt.Errorf("%w: key is not base64", ErrMalformedHash)
	}
	if vals[2] > 255 {
		return p, nil, nil, fmt.Errorf("%w: p=%d", ErrMalformedHash, vals[2])
	}
	p = Params{Memory: vals[0], Time: vals[1], Threads: uint8(vals[2]), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.validate(); err != nil {
		return Params{}, nil, nil, err
	}
	return p, salt, key, nil
}

// InFlight returns the number of hashes running now (for metrics).
func (h *Hasher) InFlight() int { return len(h.sem) }
