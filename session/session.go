package session

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Method is a way of authenticating that a session records.
type Method uint8

// The methods a session can record. SSO and API keys plug in through the
// same values.
const (
	MethodPassword     Method = 1 << iota // a local password
	MethodTOTP                            // a time-based one-time code
	MethodOIDC                            // an OpenID Connect provider (Azure AD)
	MethodSAML                            // a SAML assertion
	MethodAPIKey                          // a service account's API key
	MethodRecoveryCode                    // a single-use MFA recovery code

	methodsAll = MethodPassword | MethodTOTP | MethodOIDC | MethodSAML | MethodAPIKey | MethodRecoveryCode
)

var methodNames = []struct {
	m    Method
	name string
}{
	{MethodPassword, "password"}, {MethodTOTP, "totp"}, {MethodOIDC, "oidc"},
	{MethodSAML, "saml"}, {MethodAPIKey, "api-key"}, {MethodRecoveryCode, "recovery-code"},
}

// Methods is a set of [Method]s. The zero value is the empty set.
type Methods uint8

// Has reports whether m is in the set.
func (s Methods) Has(m Method) bool { return s&Methods(m) != 0 }

// With returns the set with m added.
func (s Methods) With(m Method) Methods { return s | Methods(m) }

// String lists the methods' names joined by "+": "password+totp".
func (s Methods) String() string {
	var b strings.Builder
	for _, n := range methodNames {
		if s.Has(n.m) {
			if b.Len() > 0 {
				b.WriteByte('+')
			}
			b.WriteString(n.name)
		}
	}
	return b.String()
}

// String returns the method's name: "password", "totp", "oidc", "saml",
// "api-key", "recovery-code".
func (m Method) String() string {
	for _, n := range methodNames {
		if n.m == m {
			return n.name
		}
	}
	return fmt.Sprintf("method(%d)", uint8(m))
}

// ParseMethod returns the method with the given name. An unknown name
// wraps [ErrInvalidInput].
func ParseMethod(name string) (Method, error) {
	for _, n := range methodNames {
		if n.name == name {
			return n.m, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown authentication method", ErrInvalidInput)
}

func (m Method) valid() bool { return m != 0 && m&(m-1) == 0 && m&methodsAll == m }

// Level is the assurance level a session has reached.
type Level uint8

// Levels. A session that needs a second factor stays at LevelPassword with
// MFA pending until [Manager.CompleteMFA].
const (
	LevelNone     Level = iota // not authenticated
	LevelPassword              // one factor
	LevelMFA                   // two factors (password + TOTP, or an SSO that asserted MFA)
)

// String returns "none", "single-factor" or "multi-factor".
func (l Level) String() string {
	switch l {
	case LevelNone:
		return "none"
	case LevelPassword:
		return "single-factor"
	case LevelMFA:
		return "multi-factor"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// MFA says where a session stands with a second factor.
type MFA uint8

// MFA states.
const (
	MFANotRequired MFA = iota // no second factor is required of this subject
	MFAPending                // a second factor is required and not yet given
	MFADone                   // a second factor was given
)

// String returns "not-required", "pending" or "done".
func (m MFA) String() string {
	switch m {
	case MFANotRequired:
		return "not-required"
	case MFAPending:
		return "pending"
	case MFADone:
		return "done"
	}
	return fmt.Sprintf("mfa(%d)", uint8(m))
}

// Fingerprint is a SHA-256 hash of something that identified the client
// (its User-Agent, its network). Only the hash is kept. The zero value means
// "not recorded".
type Fingerprint [32]byte

// NewFingerprint hashes parts (each length-prefixed, so that ("ab","c") and
// ("a","bc") differ).
func NewFingerprint(parts ...string) Fingerprint {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var f Fingerprint
	h.Sum(f[:0])
	return f
}

// IsZero reports whether f was not recorded.
func (f Fingerprint) IsZero() bool { return f == Fingerprint{} }

// String returns the hash in hex, or "" for the zero value.
func (f Fingerprint) String() string {
	if f.IsZero() {
		return ""
	}
	return hex.EncodeToString(f[:])
}

// Client holds the hashes of what identified the client when the session
// started. Zero fields were not recorded.
type Client struct {
	Agent   Fingerprint // e.g. NewFingerprint(r.UserAgent())
	Network Fingerprint // e.g. NewFingerprint(the client's /24 or /64 prefix)
}

// Session is the server-side record of an authenticated session, and what
// [Manager.Verify] returns. It is a plain value: copying it is safe, and no
// field aliases the Manager's cache.
type Session struct {
	// ID is random (128 bits, hex); a new one is made on every sign-in and
	// when MFA completes, so an ID seen before authentication is never
	// the ID of an authenticated session (no fixation).
	ID string
	// Subject is who signed in: "user:alice", "svc:permits-api".
	Subject string
	// Created is when the session started; Expires ends it whatever its use
	// (the absolute lifetime); LastSeen is the last refresh.
	Created, Expires, LastSeen time.Time
	// IdleTimeout ends the session when LastSeen is older than this; zero
	// means no idle timeout.
	IdleTimeout time.Duration
	// Methods are the authentication methods used; Level the assurance
	// level they reached; MFA whether a second factor is pending or done.
	Methods Methods
	Level   Level
	MFA     MFA
	// Client holds fingerprint hashes of the client at sign-in.
	Client Client
}

// IdleDeadline returns when the session ends if it is not refreshed: the
// earlier of Expires and LastSeen+IdleTimeout.
func (s Session) IdleDeadline() time.Time {
	if s.IdleTimeout <= 0 {
		return s.Expires
	}
	if d := s.LastSeen.Add(s.IdleTimeout); d.Before(s.Expires) {
		return d
	}
	return s.Expires
}

// ActiveAt reports whether the session is in force at t: started, not past
// its absolute lifetime, not idle.
func (s Session) ActiveAt(t time.Time) bool {
	return !t.Before(s.Created) && t.Before(s.IdleDeadline())
}
