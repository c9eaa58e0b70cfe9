package oidc

import (
	"strings"
	"testing"
)

// FuzzParseClaims: any payload is parsed or refused, never a panic, and a
// parsed one yields an identity only with a printable key.
func FuzzParseClaims(f *testing.F) {
	f.Add([]byte(`{"iss":"https://login.microsoftonline.com/t/v2.0","aud":"c","sub":"s","tid":"t","oid":"o","groups":["a"],"exp":1,"iat":1,"nonce":"n"}`))
	f.Add([]byte(`{"aud":["a","b"],"email_verified":"true","_claim_names":{"groups":"src1"},"hasgroups":true}`))
	f.Add([]byte(`{"exp":1e400,"groups":"notalist"}`))
	f.Add([]byte(`[]`))
	rp := &RelyingParty{cfg: Config{Provider: "p", Entra: true, AttributeClaims: []string{"department"}}, mfaAMR: defaultMFA}
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := parseClaims(payload, "groups", []string{"department"})
		if err != nil {
			return
		}
		_, _ = unixTime(c.Exp)
		id, err := rp.identity(c)
		if err != nil {
			return
		}
		if !strings.Contains(id.Key, "/") || strings.ContainsAny(id.Key, " \x00\n") {
			t.Fatalf("key %q", id.Key)
		}
		if id.GroupsUnknown && len(id.Groups) != 0 {
			t.Fatal("unknown groups must carry no list")
		}
	})
}

// FuzzPlainHeader: header screening never panics and refuses every key
// carrying header.
func FuzzPlainHeader(f *testing.F) {
	f.Add(`eyJhbGciOiJSUzI1NiJ9.e30.x`)
	f.Add(`eyJhbGciOiJSUzI1NiIsImprdSI6Imh0dHA6Ly9ldmlsIn0.e30.x`)
	f.Fuzz(func(t *testing.T, raw string) {
		_ = plainHeader(raw)
	})
}
