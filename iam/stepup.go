package iam

import (
	"context"
	"errors"
	"fmt"

	"time"

	"github.com/civic-platform/security/internal/perm"
)

// ErrStepUp is wrapped by the error [RequireAuthenticated] returns when
// the policy allows but the permission requires multi-factor
// authentication and the caller has not done it: the caller should ask for
// a second factor (signin.Service.VerifyCode, then
// session.Manager.CompleteMFA) and retry.
var ErrStepUp = errors.New("iam: multi-factor authentication required")

// StepUpError reports a permission that needs a second factor the session
// lacks. errors.Is reports true for both ErrStepUp and ErrDenied, so code
// that only knows about denials still denies.
type StepUpError struct {
	Subject    Subject
	Permission Permission
	Scope      Scope
}

func (e *StepUpError) Error() string {
	return fmt.Sprintf("iam: %s needs multi-factor authentication for %s at %s", e.Subject, e.Permission, e.Scope)
}

// Is reports whether target is ErrStepUp or ErrDenied.
func (e *StepUpError) Is(target error) bool { return target == ErrStepUp || target == ErrDenied }

// mfaRule holds the permissions WithMFARequired marked.
type mfaRule struct {
	exact    map[Permission]struct{}
	prefixes map[string]struct{} // "crm.citizen." for crm.citizen.*
	err      error
}

// WithMFARequired marks permissions that a session may use only after a
// second factor: exact permissions ("finance.ap.payment.release") or
// wildcards ("crm.citizen.sin.*"). A decision that knows how the caller
// authenticated — [CheckAuthenticated], [RequireAuthenticated], or a
// [Request] with Authn set in [Authorizer.CheckMany] — then answers
// "step-up needed" instead of allow when the caller has not verified a
// second factor. [Authorizer.Check], which knows no authentication, is
// unchanged. A malformed pattern makes New fail with an error wrapping
// ErrInvalidInput.
func WithMFARequired(perms ...Permission) Option {
	return func(o *options) {
		if o.mfa.exact == nil {
			o.mfa.exact = map[Permission]struct{}{}
			o.mfa.prefixes = map[string]struct{}{}
		}
		for _, p := range perms {
			parsed, err := perm.Parse(string(p), true)
			if err != nil {
				o.mfa.err = errors.Join(o.mfa.err, fmt.Errorf("%w: WithMFARequired: %w", ErrInvalidInput, err))
				continue
			}
			if parsed.Kind == perm.Wildcard {
				o.mfa.prefixes[parsed.Prefix] = struct{}{}
			} else {
				o.mfa.exact[p] = struct{}{}
			}
		}
	}
}

func (r *mfaRule) requires(p Permission) bool {
	if len(r.exact) == 0 && len(r.prefixes) == 0 {
		return false
	}
	if _, ok := r.exact[p]; ok {
		return true
	}
	found := false
	perm.WildcardPrefixes(string(p), func(prefix string) bool {
		_, found = r.prefixes[prefix]
		return !found
	})
	return found
}

// Authn is what authentication established about the caller of a
// request: who it is, how it proved it, and whether a second factor was
// verified. iam does not authenticate; a session layer or API-key check
// fills in an Authn (package session does with Session.Authn) and a
// decision that knows it applies [WithMFARequired].
type Authn struct {
	// Subject is who authenticated: "user:alice", "svc:permits-api".
	Subject Subject `json:"subject"`
	// Methods name the authentication methods used ("password", "totp",
	// "oidc", "saml", "api-key", "recovery-code"); for logs and reviews.
	Methods []string `json:"methods,omitempty"`
	// MFA reports that a second factor was verified for this
	// authentication. Only MFA true satisfies [WithMFARequired].
	MFA bool `json:"mfa"`
	// At is when the caller authenticated (the last factor); zero if not
	// known. It is carried for the caller's own policies and logs; iam
	// does not judge its age.
	At time.Time `json:"at,omitzero"`
}

// RequiresMFA reports whether a marks p with [WithMFARequired]. A nil
// Authorizer requires nothing.
func RequiresMFA(a *Authorizer, p Permission) bool {
	return a != nil && a.opts.mfa.requires(p)
}

// CheckAuthenticated is [Authorizer.Check] for a request whose caller
// authenticated as authn says: the subject is authn.Subject, and when the
// policy allows a permission marked with [WithMFARequired] but authn.MFA
// is false, the Decision denies with StepUp set and the reason "step-up:
// multi-factor authentication required". An empty authn.Subject is invalid
// input.
func CheckAuthenticated(ctx context.Context, a *Authorizer, authn Authn, p Permission, scope Scope) (Decision, error) {
	if a == nil {
		return Decision{}, ErrClosed
	}
	d, err := a.Check(ctx, authn.Subject, p, scope)
	if err != nil || !d.Allowed {
		return d, err
	}
	return a.stepUp(d, &authn, p), nil
}

// stepUp turns an allowing decision into a step-up denial when p needs a
// second factor that authn lacks.
func (a *Authorizer) stepUp(d Decision, authn *Authn, p Permission) Decision {
	if d.Allowed && authn != nil && !authn.MFA && a.opts.mfa.requires(p) {
		return Decision{StepUp: true, Reason: "step-up: multi-factor authentication required", Revision: d.Revision}
	}
	return d
}

// RequireAuthenticated is the handler-friendly form of
// [CheckAuthenticated]: nil when allowed, a [*StepUpError] (ErrStepUp and
// ErrDenied) when a second factor is needed, a [*DeniedError] when the
// policy denies, and any other error when no decision could be made.
func RequireAuthenticated(ctx context.Context, a *Authorizer, authn Authn, p Permission, scope Scope) error {
	d, err := CheckAuthenticated(ctx, a, authn, p, scope)
	switch {
	case err != nil:
		return err
	case d.StepUp:
		return &StepUpError{Subject: authn.Subject, Permission: p, Scope: scope}
	case !d.Allowed:
		return &DeniedError{Subject: authn.Subject, Permission: p, Scope: scope, Reason: d.Reason, Revision: d.Revision}
	}
	return nil
}
