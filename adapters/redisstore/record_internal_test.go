package redisstore

import (
	"strconv"
	"testing"
	"time"

	"github.com/civic-platform/security/session"
)

// FuzzDecode: any stored bytes decode to a session or to an error, never a
// panic; what decodes encodes back to the same text (one representation).
func FuzzDecode(f *testing.F) {
	s := session.Session{ID: "0123456789abcdef0123456789abcdef", Subject: "user:alice", Created: time.Unix(0, 1e18),
		Expires: time.Unix(0, 2e18), IdleTimeout: time.Minute, Methods: 3, Level: 2, MFA: 2,
		Client: session.Client{Agent: session.NewFingerprint("ua")}}
	v, err := encode(s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v, "1000")
	f.Add(v+sep+"extra", "1")
	f.Add("1"+sep+"a", "x")
	f.Add("", "")
	f.Add("2"+v[1:], "5")
	f.Fuzz(func(t *testing.T, v, last string) {
		got, err := decode(map[string]string{"v": v, "last": last})
		if err != nil {
			return
		}
		again, err := encode(got)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", got, err)
		}
		back, err := decode(map[string]string{"v": again, "last": strconv.FormatInt(got.LastSeen.UnixNano(), 10)})
		if err != nil || back != got {
			t.Fatalf("round trip: %+v -> %q -> %+v, %v", got, again, back, err)
		}
	})
}

func TestEncodeRefusesSeparator(t *testing.T) {
	if _, err := encode(session.Session{ID: "a", Subject: "user:a" + sep + "b"}); err == nil {
		t.Fatal("a subject holding the separator was encoded")
	}
}
