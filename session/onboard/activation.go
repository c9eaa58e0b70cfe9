package onboard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/civic-platform/security/session/signin"
)

// ErrInvalidLink is returned for an activation link that is malformed,
// forged, expired, already used, or whose user is no longer active: one
// error for all, so that a link reveals nothing.
var ErrInvalidLink = errors.New("onboard: invalid or expired activation link")

// Activator issues and redeems one-time activation links for local
// sign-in: the link in the welcome message lets a new employee choose a
// first password.
//
// A link carries the user id, its expiry and a random nonce, and an
// HMAC-SHA-256 over them (and the user's creation time) under a server
// key; nothing is stored. It is one-time because it works only while the
// user has no password: once a password is set, by this link or any other
// way, the link is dead, in every process. It is refused once the user is
// suspended or offboarded. Safe for concurrent use.
type Activator struct {
	key   []byte
	base  string
	ttl   time.Duration
	users signin.Store
	set   PasswordSetter
	now   func() time.Time
	mu    sync.Mutex // one redemption at a time in this process
}

// PasswordSetter sets a user's password after checking it against the
// password policy: a *signin.Service is one.
type PasswordSetter interface {
	SetPassword(ctx context.Context, userID, pw string) error
}

// DefaultLinkTTL is how long an activation link stays valid.
const DefaultLinkTTL = 72 * time.Hour

// NewActivator returns an Activator whose links point at base (an
// absolute http(s) URL; the token is added as the query parameter
// "token"), MACed with key (at least 32 bytes), valid for ttl (<= 0:
// [DefaultLinkTTL]). users is read to check the user; set sets the
// password.
func NewActivator(key []byte, base string, ttl time.Duration, users signin.Store, set PasswordSetter, now func() time.Time) (*Activator, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("%w: activation key shorter than 32 bytes", ErrInvalidInput)
	}
	if err := checkURL(base); err != nil {
		return nil, err
	}
	if strings.Contains(base, "?") || strings.Contains(base, "#") {
		return nil, fmt.Errorf("%w: activation base URL must have no query or fragment", ErrInvalidInput)
	}
	if users == nil || set == nil {
		return nil, fmt.Errorf("%w: activator needs a user store and a password setter", ErrInvalidInput)
	}
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Activator{key: append([]byte(nil), key...), base: base, ttl: ttl, users: users, set: set, now: now}, nil
}

// TTL is how long a link is valid.
func (a *Activator) TTL() time.Duration { return a.ttl }

func (a *Activator) mac(payload []byte, created time.Time) []byte {
	h := hmac.New(sha256.New, a.key)
	h.Write([]byte("civic-activation-v1\x00"))
	h.Write(payload)
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], uint64(created.UnixNano()))
	h.Write(c[:])
	return h.Sum(nil)
}

// Link returns a new activation link for u.
func (a *Activator) Link(u signin.User) (string, error) {
	tok, err := a.token(u)
	if err != nil {
		return "", err
	}
	return a.base + "?token=" + tok, nil
}

func (a *Activator) token(u signin.User) (string, error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", err
	}
	exp := a.now().Add(a.ttl).Unix()
	payload := make([]byte, 0, 8+16+len(u.ID))
	payload = binary.BigEndian.AppendUint64(payload, uint64(exp))
	payload = append(payload, nonce[:]...)
	payload = append(payload, u.ID...)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(a.mac(payload, u.Created)), nil
}

// maxToken bounds the token text read.
const maxToken = 512

// Redeem sets the first password of the user the token was issued for and
// returns the user. Every refusal of the token is [ErrInvalidLink]; a
// password the policy refuses is the setter's error (signin.ErrInvalidInput
// and friends), and the link stays usable.
func (a *Activator) Redeem(ctx context.Context, token, password string) (signin.User, error) {
	if len(token) > maxToken {
		return signin.User{}, ErrInvalidLink
	}
	enc := base64.RawURLEncoding
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return signin.User{}, ErrInvalidLink
	}
	payload, err1 := enc.DecodeString(p64)
	sum, err2 := enc.DecodeString(m64)
	if err1 != nil || err2 != nil || len(payload) <= 24 || len(sum) != sha256.Size {
		return signin.User{}, ErrInvalidLink
	}
	exp := int64(binary.BigEndian.Uint64(payload[:8]))
	id := string(payload[24:])
	a.mu.Lock()
	defer a.mu.Unlock()
	u, err := a.users.User(ctx, id)
	if err != nil {
		if errors.Is(err, signin.ErrNotFound) || errors.Is(err, signin.ErrInvalidInput) {
			return signin.User{}, ErrInvalidLink
		}
		return signin.User{}, fmt.Errorf("onboard: redeem: %w", err)
	}
	if !hmac.Equal(sum, a.mac(payload, u.Created)) || a.now().Unix() >= exp || u.Status != signin.StatusActive {
		return signin.User{}, ErrInvalidLink
	}
	switch _, err := a.users.PasswordHash(ctx, u.ID); {
	case err == nil:
		return signin.User{}, ErrInvalidLink // used: a password is set
	case !errors.Is(err, signin.ErrNotFound):
		return signin.User{}, fmt.Errorf("onboard: redeem: %w", err)
	}
	if err := a.set.SetPassword(ctx, u.ID, password); err != nil {
		return signin.User{}, err
	}
	return u, nil
}
