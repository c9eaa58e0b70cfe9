package signin

import (
	"context"
	"fmt"

	"github.com/civic-platform/security/session"
)

// ManagerSessions adapts a session.Manager to Sessions. A sign-in with
// one factor creates a session with MFA not required. A sign-in with a
// second factor creates the password session with MFA pending and at once
// completes it with the second method (session.Manager.CompleteMFA), so
// the session returned has a new id, level multi-factor and MFA done, and
// the intermediate one is ended (reason mfa-completed). The client key is
// kept only as a fingerprint hash (session.Client.Network).
func ManagerSessions(m *session.Manager) Sessions {
	return SessionsFunc(func(ctx context.Context, req StartRequest) (Started, error) {
		if len(req.Methods) == 0 {
			return Started{}, fmt.Errorf("%w: no authentication method", ErrInvalidInput)
		}
		first, err := session.ParseMethod(req.Methods[0])
		if err != nil {
			return Started{}, err
		}
		mfa := session.MFANotRequired
		if len(req.Methods) > 1 {
			mfa = session.MFAPending
		}
		st := session.Start{Subject: req.Subject, Method: first, MFA: mfa}
		if req.Client != "" {
			st.Client.Network = session.NewFingerprint(req.Client)
		}
		s, tok, err := m.Create(ctx, st)
		if err != nil {
			return Started{}, err
		}
		for _, name := range req.Methods[1:] {
			meth, err := session.ParseMethod(name)
			if err != nil {
				_ = m.Logout(ctx, tok)
				return Started{}, err
			}
			if s, tok, err = m.CompleteMFA(ctx, tok, meth); err != nil {
				return Started{}, err
			}
		}
		return Started{ID: s.ID, Token: tok, Expires: s.Expires}, nil
	})
}
