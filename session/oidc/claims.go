package oidc

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/sso"
)

// MaxIDToken bounds an ID token; larger ones are refused before they are
// parsed (an Entra token with 200 groups is about 10 KiB).
const MaxIDToken = 64 << 10

// audience is a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*a = ss
	return nil
}

// flexBool accepts true and "true" (some providers send strings).
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "true", `"true"`:
		*f = true
	case "false", `"false"`, "null":
		*f = false
	default:
		return fmt.Errorf("not a boolean")
	}
	return nil
}

// strictBool is true only for the JSON value true: a string "true" or
// anything else reads as false, so an email counts as verified only when
// the provider says so in the standard form.
type strictBool bool

func (f *strictBool) UnmarshalJSON(b []byte) error {
	*f = string(bytes.TrimSpace(b)) == "true"
	return nil
}

// claims are the ID token claims the relying party reads.
type claims struct {
	Iss           string         `json:"iss"`
	Sub           string         `json:"sub"`
	Aud           audience       `json:"aud"`
	Azp           string         `json:"azp"`
	Exp           *float64       `json:"exp"`
	Iat           *float64       `json:"iat"`
	Nbf           *float64       `json:"nbf"`
	AuthTime      *float64       `json:"auth_time"`
	Nonce         *string        `json:"nonce"`
	Tid           string         `json:"tid"`
	Oid           string         `json:"oid"`
	Email         string         `json:"email"`
	EmailVerified strictBool     `json:"email_verified"`
	Name          string         `json:"name"`
	AMR           []string       `json:"amr"`
	ACR           string         `json:"acr"`
	ClaimNames    map[string]any `json:"_claim_names"`
	HasGroups     flexBool       `json:"hasgroups"`
	Extra         map[string]any `json:"-"`
	groups        []string
}

func unixTime(f *float64) (time.Time, bool) {
	if f == nil || math.IsNaN(*f) || math.IsInf(*f, 0) || *f < 0 || *f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(*f), 0), true
}

// parseClaims decodes a verified payload.
func parseClaims(payload []byte, groupsClaim string, attrs []string) (claims, error) {
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(payload, &all); err != nil {
		return c, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	if raw, ok := all[groupsClaim]; ok {
		if err := json.Unmarshal(raw, &c.groups); err != nil {
			return c, fmt.Errorf("%w: %s claim is not a list of strings", ErrClaims, groupsClaim)
		}
	}
	c.Extra = map[string]any{}
	for _, name := range attrs {
		if raw, ok := all[name]; ok {
			var v any
			if json.Unmarshal(raw, &v) == nil {
				c.Extra[name] = v
			}
		}
	}
	return c, nil
}

// checkIDToken verifies raw and returns the identity it asserts.
func (rp *RelyingParty) checkIDToken(ctx context.Context, raw, nonce string) (sso.Identity, error) {
	if raw == "" || len(raw) > MaxIDToken || strings.Count(raw, ".") != 2 || strings.ContainsAny(raw, " \t\r\n") {
		return sso.Identity{}, fmt.Errorf("%w: missing, oversized or not a compact JWS", ErrMalformed)
	}
	payload, err := rp.keys.VerifySignature(ctx, raw)
	if err != nil {
		return sso.Identity{}, err
	}
	groupsClaim := rp.cfg.GroupsClaim
	if groupsClaim == "" {
		groupsClaim = "groups"
	}
	c, err := parseClaims(payload, groupsClaim, rp.cfg.AttributeClaims)
	if err != nil {
		return sso.Identity{}, err
	}
	if err := rp.checkClaims(c, nonce); err != nil {
		return sso.Identity{}, err
	}
	return rp.identity(c)
}

// checkClaims checks tenant, issuer, audience, times, nonce and auth_time,
// in that order.
func (rp *RelyingParty) checkClaims(c claims, nonce string) error {
	if len(rp.cfg.Tenants) > 0 && !slices.Contains(rp.cfg.Tenants, c.Tid) {
		return fmt.Errorf("%w: %.64q", ErrTenant, c.Tid)
	}
	want := rp.cfg.Issuer
	if rp.cfg.IssuerTemplate != "" {
		want = strings.ReplaceAll(rp.cfg.IssuerTemplate, "{tenantid}", c.Tid)
	}
	if c.Iss == "" || c.Iss != want {
		return fmt.Errorf("%w: %.100q", ErrIssuer, c.Iss)
	}
	// An Entra v2.0 issuer names its tenant (.../<tid>/v2.0); the token's
	// tid must be that tenant, so a token cannot claim another directory
	// than the one that issued it.
	if rp.cfg.Entra && (c.Tid == "" || !strings.Contains(c.Iss+"/", "/"+c.Tid+"/")) {
		return fmt.Errorf("%w: tid %.64q is not the issuer's tenant", ErrTenant, c.Tid)
	}
	if !slices.Contains(c.Aud, rp.cfg.ClientID) {
		return fmt.Errorf("%w: client id not in aud", ErrAudience)
	}
	if (len(c.Aud) > 1 || c.Azp != "") && c.Azp != rp.cfg.ClientID {
		return fmt.Errorf("%w: azp is not the client id", ErrAudience)
	}
	now, lw := rp.o.now(), rp.o.leeway
	exp, ok := unixTime(c.Exp)
	if !ok || !now.Before(exp.Add(lw)) {
		return fmt.Errorf("%w: exp missing or passed", ErrExpired)
	}
	if iat, ok := unixTime(c.Iat); !ok || iat.After(now.Add(lw)) {
		return fmt.Errorf("%w: iat missing or in the future", ErrExpired)
	}
	if c.Nbf != nil {
		if nbf, ok := unixTime(c.Nbf); !ok || nbf.After(now.Add(lw)) {
			return fmt.Errorf("%w: nbf in the future", ErrExpired)
		}
	}
	if c.Nonce == nil || subtle.ConstantTimeCompare([]byte(*c.Nonce), []byte(nonce)) != 1 {
		return fmt.Errorf("%w: missing or not the one sent", ErrNonce)
	}
	if rp.cfg.MaxAge > 0 {
		at, ok := unixTime(c.AuthTime)
		if !ok || now.Sub(at) > rp.cfg.MaxAge+lw || at.After(now.Add(lw)) {
			return fmt.Errorf("%w: auth_time missing or older than max_age", ErrAuthTime)
		}
	}
	return nil
}

// identity builds the sso identity from checked claims.
func (rp *RelyingParty) identity(c claims) (sso.Identity, error) {
	id := sso.Identity{
		Provider: rp.cfg.Provider, Tenant: c.Tid, Email: c.Email, EmailVerified: bool(c.EmailVerified),
		Name: c.Name, Method: session.MethodOIDC, AMR: c.AMR, ACR: c.ACR, Groups: c.groups,
	}
	if rp.cfg.Entra {
		if !visible(c.Tid) || !visible(c.Oid) {
			return sso.Identity{}, fmt.Errorf("%w: Entra tokens need tid and oid", ErrClaims)
		}
		id.Key = c.Tid + "/" + c.Oid
	} else {
		if !visible(c.Sub) {
			return sso.Identity{}, fmt.Errorf("%w: sub", ErrClaims)
		}
		id.Key = c.Sub
	}
	// Group overage: Entra replaces the claim with a link (or, in the
	// implicit flow, hasgroups). The groups are unknown, not empty.
	groupsClaim := rp.cfg.GroupsClaim
	if groupsClaim == "" {
		groupsClaim = "groups"
	}
	if _, over := c.ClaimNames[groupsClaim]; over || bool(c.HasGroups) {
		id.Groups, id.GroupsUnknown = nil, true
	}
	for _, a := range c.AMR {
		if slices.Contains(rp.mfaAMR, a) {
			id.MFA = true
		}
	}
	if c.ACR != "" && slices.Contains(rp.cfg.MFAContexts, c.ACR) {
		id.MFA = true
	}
	if len(c.Extra) > 0 {
		id.Attributes = map[string][]string{}
		for k, v := range c.Extra {
			switch v := v.(type) {
			case string:
				id.Attributes[k] = []string{v}
			case []any:
				for _, x := range v {
					if s, ok := x.(string); ok {
						id.Attributes[k] = append(id.Attributes[k], s)
					}
				}
			}
		}
	}
	return id, nil
}

func visible(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '/' {
			return false
		}
	}
	return true
}
