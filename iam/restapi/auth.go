package restapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/signin"
)

// LoginRequest signs a user in.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Code is a TOTP or recovery code, for a user enrolled in MFA.
	Code string `json:"code,omitempty"`
	// DeviceToken is the device_token of an earlier sign-in on this device.
	DeviceToken string `json:"device_token,omitempty"`
	// ReturnToken puts the session token in the response body, for clients
	// that send it as a bearer token; browsers use the cookie and leave it
	// false, so scripts never see the token.
	ReturnToken bool `json:"return_token,omitempty"`
}

// LoginResponse is a step of sign-in: either a session (a cookie is set)
// or a challenge for /auth/mfa/verify.
type LoginResponse struct {
	Subject     string    `json:"subject,omitempty"`
	MFARequired bool      `json:"mfa_required"`
	Challenge   string    `json:"challenge,omitempty"`
	Expires     time.Time `json:"expires,omitzero"`
	Token       string    `json:"token,omitempty"`
	DeviceToken string    `json:"device_token,omitempty"`
}

// MFARequest gives a second factor: with Challenge, it finishes a sign-in
// that answered mfa_required; without, it steps up the caller's session.
type MFARequest struct {
	Challenge   string `json:"challenge,omitempty"`
	Code        string `json:"code"`
	DeviceToken string `json:"device_token,omitempty"`
	ReturnToken bool   `json:"return_token,omitempty"`
}

// PasswordRequest changes the caller's own password.
type PasswordRequest struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

// SessionInfo describes the caller.
type SessionInfo struct {
	Subject   string   `json:"subject"`
	Source    string   `json:"source"`
	SessionID string   `json:"session_id,omitempty"`
	KeyID     string   `json:"key_id,omitempty"`
	Methods   []string `json:"methods"`
	Level     string   `json:"level"`
	MFA       string   `json:"mfa"`
}

var errNoSignIn = fmt.Errorf("%w: sign-in is not configured", iamhttp.ErrNotImplemented)

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	if a.o.signin == nil {
		return errNoSignIn
	}
	b := bodyOf[LoginRequest](r)
	ctx, end := a.startSignIn(r.Context(), "password")
	res, err := a.o.signin.SignIn(ctx, signin.Attempt{Email: b.Email, Password: b.Password, Code: b.Code,
		Client: a.o.clientIP(r), DeviceToken: b.DeviceToken})
	end(err)
	if err != nil {
		return err
	}
	return a.signedIn(w, r, res, b.ReturnToken)
}

func (a *API) signedIn(w http.ResponseWriter, r *http.Request, res signin.Result, returnToken bool) error {
	out := LoginResponse{Subject: res.User.Subject(), MFARequired: res.MFARequired, Challenge: res.Challenge, DeviceToken: res.DeviceToken}
	if !res.MFARequired {
		if res.Session.Token == "" {
			return errors.New("restapi: sign-in started no session (signin.WithSessions missing)")
		}
		a.mw.StartSession(w, r, res.Session)
		out.Expires = res.Session.Expires
		if returnToken {
			out.Token = res.Session.Token
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) startSignIn(ctx context.Context, method string) (context.Context, func(error)) {
	if a.o.tel == nil {
		return ctx, func(error) {}
	}
	return a.o.tel.StartSignIn(ctx, method)
}

func (a *API) mfaVerify(w http.ResponseWriter, r *http.Request) error {
	if a.o.signin == nil {
		return errNoSignIn
	}
	b := bodyOf[MFARequest](r)
	attempt := signin.MFAAttempt{Challenge: b.Challenge, Code: b.Code, Client: a.o.clientIP(r), DeviceToken: b.DeviceToken}
	if b.Challenge != "" {
		ctx, end := a.startSignIn(r.Context(), "totp")
		res, err := a.o.signin.CompleteMFA(ctx, attempt)
		end(err)
		if err != nil {
			return err
		}
		return a.signedIn(w, r, res, b.ReturnToken)
	}
	// Step-up of the caller's own session.
	c, ok := iamhttp.Principal(r.Context())
	tok := iamhttp.Token(r.Context())
	if !ok || tok == "" || a.o.sessions == nil {
		return fmt.Errorf("%w: step-up needs a session", session.ErrInvalidToken)
	}
	userID, found := strings.CutPrefix(string(c.Subject), "user:")
	if !found {
		return fmt.Errorf("%w: only users step up", iamhttp.ErrBadRequest)
	}
	ctx, end := a.startSignIn(r.Context(), "step-up")
	method, err := a.o.signin.VerifyCode(ctx, userID, attempt)
	if err != nil {
		end(err)
		return err
	}
	m, err := session.ParseMethod(method)
	if err != nil {
		end(err)
		return err
	}
	s, token, err := a.o.sessions.CompleteMFA(ctx, tok, m)
	end(err)
	if err != nil {
		return err
	}
	a.mw.StartSession(w, r, signin.Started{ID: s.ID, Token: token, Expires: s.Expires})
	out := LoginResponse{Subject: s.Subject, Expires: s.Expires}
	if b.ReturnToken {
		out.Token = token
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	tok := iamhttp.Token(r.Context())
	if tok == "" || a.o.sessions == nil {
		return fmt.Errorf("%w: an API key has no session to end", iamhttp.ErrBadRequest)
	}
	if err := a.o.sessions.Logout(r.Context(), tok); err != nil && !errors.Is(err, session.ErrNoSession) {
		return err
	}
	a.mw.EndSession(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) sessionInfo(w http.ResponseWriter, r *http.Request) error {
	c, _ := iamhttp.Principal(r.Context())
	methods := append([]string{}, c.Authn().Methods...)
	writeJSON(w, http.StatusOK, SessionInfo{Subject: string(c.Subject), Source: c.Source.String(), SessionID: c.SessionID,
		KeyID: c.KeyID, Methods: methods, Level: c.Level.String(), MFA: c.MFA.String()})
	return nil
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) error {
	if a.o.signin == nil || a.o.sessions == nil {
		return errNoSignIn
	}
	c, _ := iamhttp.Principal(r.Context())
	userID, ok := strings.CutPrefix(string(c.Subject), "user:")
	if !ok || c.SessionID == "" {
		return fmt.Errorf("%w: only a signed-in user changes a password", iamhttp.ErrBadRequest)
	}
	b := bodyOf[PasswordRequest](r)
	u, err := a.o.signin.Store().User(r.Context(), userID)
	if err != nil {
		return err
	}
	// The current password is verified like a sign-in (lockout included);
	// the session that starts is ended at once.
	res, err := a.o.signin.SignIn(r.Context(), signin.Attempt{Email: u.Email, Password: b.Current, Client: a.o.clientIP(r)})
	if err != nil && !errors.Is(err, signin.ErrInvalidCode) {
		return err
	}
	if res.Session.Token != "" {
		_ = a.o.sessions.Logout(r.Context(), res.Session.Token)
	}
	if err != nil {
		return err
	}
	if err := a.o.signin.SetPassword(r.Context(), userID, b.New); err != nil {
		return fmt.Errorf("%w: %w", iamhttp.ErrBadRequest, err)
	}
	if a.o.changed != nil {
		if err := a.o.changed(r.Context(), userID); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) samlCallback(w http.ResponseWriter, r *http.Request) error {
	if a.o.saml == nil {
		return fmt.Errorf("%w: SAML is not configured", iamhttp.ErrNotImplemented)
	}
	a.o.saml.ServeHTTP(w, r)
	return nil
}

func (a *API) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	if a.o.oidc == nil {
		return fmt.Errorf("%w: OpenID Connect is not configured", iamhttp.ErrNotImplemented)
	}
	a.o.oidc.ServeHTTP(w, r)
	return nil
}
