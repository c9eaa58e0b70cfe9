package totp

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"
)

var (
	// ErrMalformedCode is wrapped by errors for a code that is not
	// exactly Digits ASCII digits (or, for recovery codes, not the
	// recovery-code alphabet and length).
	ErrMalformedCode = errors.New("totp: malformed code")
	// ErrWrongCode is returned when a well-formed code matches no time
	// step in the window.
	ErrWrongCode = errors.New("totp: wrong code")
	// ErrInvalidSecret is wrapped when a stored secret is not base32 of at
	// least 16 bytes.
	ErrInvalidSecret = errors.New("totp: invalid secret")
)

// Config is the shape of the codes: the zero Config means a 30-second
// period, 6 digits, SHA-1 (what every authenticator app supports) and a
// skew of one step either side.
type Config struct {
	// Issuer names the service in the authenticator app ("City of
	// Lakeview"). Required for Enrol.
	Issuer string
	// Period is the length of a time step in whole seconds; 0 (or
	// anything under a second) means 30 s.
	Period time.Duration
	// Digits per code: 6 (default) or 8; any other value means 6.
	Digits int
	// Skew is how many steps before and after the current one a code is
	// accepted; 0 means 1, more than MaxSkew means MaxSkew. Use NoSkew for
	// none.
	Skew int
}

// MaxSkew is the widest skew a Config accepts: 10 steps either side.
const MaxSkew = 10

// NoSkew as Config.Skew accepts only the current step.
const NoSkew = -1

func (c Config) period() uint {
	if c.Period < time.Second {
		return 30
	}
	return uint(c.Period / time.Second)
}

func (c Config) digits() otp.Digits {
	if c.Digits == 8 {
		return otp.DigitsEight
	}
	return otp.DigitsSix
}

func (c Config) skew() int64 {
	switch {
	case c.Skew == 0:
		return 1
	case c.Skew < 0:
		return 0
	}
	return int64(min(c.Skew, MaxSkew))
}

// Enrolment is what a user needs to add an account to an authenticator
// app. Secret must be sealed before it is stored (package secrets) and
// shown to the user only during enrolment.
type Enrolment struct {
	// Secret is the shared secret in unpadded base32 (160 bits).
	Secret string
	// URI is the otpauth:// provisioning URI.
	URI string
	// PNG is a 256×256 QR code of URI.
	PNG []byte
}

// Enrol generates a fresh secret for account (usually the email).
func (c Config) Enrol(account string) (Enrolment, error) {
	if c.Issuer == "" || account == "" {
		return Enrolment{}, errors.New("totp: Enrol: issuer and account are required")
	}
	k, err := ptotp.Generate(ptotp.GenerateOpts{
		Issuer:      c.Issuer,
		AccountName: account,
		Period:      c.period(),
		SecretSize:  20,
		Digits:      c.digits(),
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrolment{}, fmt.Errorf("totp: enrol: %w", err)
	}
	img, err := k.Image(256, 256)
	if err != nil {
		return Enrolment{}, fmt.Errorf("totp: enrol: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrolment{}, fmt.Errorf("totp: enrol: QR code: %w", err)
	}
	return Enrolment{Secret: k.Secret(), URI: k.URL(), PNG: buf.Bytes()}, nil
}

// Step returns the time step that contains at.
func (c Config) Step(at time.Time) int64 {
	return at.Unix() / int64(c.period())
}

// Code returns the code for the step containing at (for tests and
// examples; a server never needs it).
func (c Config) Code(secret string, at time.Time) (string, error) {
	if err := checkSecret(secret); err != nil {
		return "", err
	}
	return ptotp.GenerateCodeCustom(secret, at, c.opts())
}

func (c Config) opts() ptotp.ValidateOpts {
	return ptotp.ValidateOpts{Period: c.period(), Digits: c.digits(), Algorithm: otp.AlgorithmSHA1}
}

func checkSecret(secret string) error {
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(secret, "="))
	if err != nil || len(b) < 16 {
		return ErrInvalidSecret
	}
	return nil
}

// Match finds the time step, within the skew window around at, whose code
// is code, and returns it. Every step in the window is computed and
// compared in constant time; if several match, the latest wins. It does
// not know which steps were used before: the caller accepts the code only
// if it can advance its stored last step to the result by compare-and-set
// (the sign-in service does), which is what makes a code single-use.
func (c Config) Match(secret, code string, at time.Time) (int64, error) {
	d := c.digits().Length()
	if len(code) != d {
		return 0, fmt.Errorf("%w: want %d digits", ErrMalformedCode, d)
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return 0, fmt.Errorf("%w: want %d digits", ErrMalformedCode, d)
		}
	}
	if err := checkSecret(secret); err != nil {
		return 0, err
	}
	now := c.Step(at)
	var found int64 = -1
	p := int64(c.period())
	for s := now - c.skew(); s <= now+c.skew(); s++ {
		want, err := ptotp.GenerateCodeCustom(secret, time.Unix(s*p, 0), c.opts())
		if err != nil {
			return 0, ErrInvalidSecret
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = s
		}
	}
	if found < 0 {
		return 0, ErrWrongCode
	}
	return found, nil
}

// RecoveryCodeCount is how many recovery codes NewRecoveryCodes makes.
const RecoveryCodeCount = 10

// recovery codes: 10 characters of Crockford-like base32 (50 bits) shown
// as xxxxx-xxxxx.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789" + "0"

// NewRecoveryCodes returns RecoveryCodeCount fresh single-use recovery
// codes, each 10 characters from a 32-letter alphabet (50 bits), written
// xxxxx-xxxxx. Show them once; store only [HashRecoveryCode] of each.
func NewRecoveryCodes() ([]string, error) {
	out := make([]string, RecoveryCodeCount)
	var b [10]byte
	for i := range out {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("totp: recovery codes: %w", err)
		}
		var s [11]byte
		for j, n := 0, 0; j < 10; j++ {
			if j == 5 {
				s[n] = '-'
				n++
			}
			s[n] = recoveryAlphabet[b[j]&31]
			n++
		}
		out[i] = string(s[:])
	}
	return out, nil
}

// NormalizeRecoveryCode lower-cases code and drops spaces and dashes; it
// refuses, with ErrMalformedCode, anything that is then not 10 characters
// of the recovery alphabet.
func NormalizeRecoveryCode(code string) (string, error) {
	if len(code) > 32 {
		return "", fmt.Errorf("%w: recovery code too long", ErrMalformedCode)
	}
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r < 128 && strings.IndexByte(recoveryAlphabet, byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return "", fmt.Errorf("%w: not a recovery code", ErrMalformedCode)
		}
	}
	if b.Len() != 10 {
		return "", fmt.Errorf("%w: not a recovery code", ErrMalformedCode)
	}
	return b.String(), nil
}

// HashRecoveryCode returns the stored form of a recovery code for user:
// SHA-256 over a domain label, the user id and the normalised code, in
// hex. A code has 50 random bits, so a fast hash suffices; the user id
// keeps one user's hash from matching another's.
func HashRecoveryCode(user, code string) (string, error) {
	n, err := NormalizeRecoveryCode(code)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte("civic-security/recovery/v1\x00"))
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(n))
	return hex.EncodeToString(h.Sum(nil)), nil
}
