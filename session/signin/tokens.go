package signin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
)

// Device tokens and MFA challenges are stateless: a purpose, the user id,
// an expiry and a random nonce, MACed with HMAC-SHA-256 under the
// service's token key ([WithTokenKey]).
//
//	<purpose>.<base64url(user id)>.<base64url(expiry unix, nonce)>.<base64url(mac)>

const (
	purposeDevice    = "dv1"
	purposeChallenge = "mc1"
	maxTokenLen      = 512
)

var tb64 = base64.RawURLEncoding.Strict()

func (s *Service) mintToken(purpose, userID string, exp time.Time) string {
	var body [24]byte
	binary.BigEndian.PutUint64(body[:8], uint64(exp.Unix()))
	_, _ = rand.Read(body[8:])
	head := purpose + "." + tb64.EncodeToString([]byte(userID)) + "." + tb64.EncodeToString(body[:])
	return head + "." + tb64.EncodeToString(s.mac(head))
}

func (s *Service) mac(head string) []byte {
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(head))
	return m.Sum(nil)
}

// parseToken returns the user id and a stable id of the token (for its
// own counter) if tok is a valid, unexpired token for purpose.
func (s *Service) parseToken(purpose, tok string, now time.Time) (userID, id string, ok bool) {
	if tok == "" || len(tok) > maxTokenLen {
		return "", "", false
	}
	f := strings.Split(tok, ".")
	if len(f) != 4 || f[0] != purpose {
		return "", "", false
	}
	mac, err := tb64.DecodeString(f[3])
	if err != nil || !hmac.Equal(mac, s.mac(f[0]+"."+f[1]+"."+f[2])) {
		return "", "", false
	}
	uid, err1 := tb64.DecodeString(f[1])
	body, err2 := tb64.DecodeString(f[2])
	if err1 != nil || err2 != nil || len(body) != 24 {
		return "", "", false
	}
	if exp := time.Unix(int64(binary.BigEndian.Uint64(body[:8])), 0); !now.Before(exp) {
		return "", "", false
	}
	sum := sha256.Sum256([]byte(f[2]))
	return string(uid), hex.EncodeToString(sum[:16]), true
}
