package iam

import (
	"context"
	"errors"
	"fmt"

	"github.com/civic-platform/security/internal/perm"
	"github.com/civic-platform/security/session"
)

// ErrStepUp is wrapped by the error RequireSession returns when the policy
// allows but the permission requires multi-factor authentication and the
// session has not done it: the caller should ask for a second factor
// (signin.Service.VerifyCode, then session.Manager.CompleteMFA) and retry.
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
// wildcards ("crm.citizen.sin.*"). [Authorizer.CheckSession] and
// [Authorizer.RequireSession] then answer "step-up needed" instead of
// allow for a session whose MFA is not done. [Authorizer.Check], which
// knows no session, is unchanged. A malformed pattern makes New fail with
// an error wrapping ErrInvalidInput.
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

// RequiresMFA reports whether perm was marked with [WithMFARequired].
func (a *Authorizer) RequiresMFA(p Permission) bool { return a.opts.mfa.requires(p) }

// CheckSession is [Authorizer.Check] for a request authenticated by s
// (as session.Manager.Verify returned it): the subject is s.Subject, and
// when the policy allows a permission marked with [WithMFARequired] but
// s.MFA is not done, the Decision denies with StepUp set and the reason
// "step-up: multi-factor authentication required".
func (a *Authorizer) CheckSession(ctx context.Context, s session.Session, p Permission, scope Scope) (Decision, error) {
	d, err := a.Check(ctx, Subject(s.Subject), p, scope)
	if err != nil || !d.Allowed {
		return d, err
	}
	if s.MFA != session.MFADone && a.opts.mfa.requires(p) {
		return Decision{StepUp: true, Reason: "step-up: multi-factor authentication required", Revision: d.Revision}, nil
	}
	return d, nil
}

// RequireSession is the handler-friendly form of CheckSession: nil when
// allowed, a [*StepUpError] (ErrStepUp and ErrDenied) when a second factor
// is needed, a [*DeniedError] when the policy denies, and any other error
// when no decision could be made.
func (a *Authorizer) RequireSession(ctx context.Context, s session.Session, p Permission, scope Scope) error {
	d, err := a.CheckSession(ctx, s, p, scope)
	switch {
	case err != nil:
		return err
	case d.StepUp:
		return &StepUpError{Subject: Subject(s.Subject), Permission: p, Scope: scope}
	case !d.Allowed:
		return &DeniedError{Subject: Subject(s.Subject), Permission: p, Scope: scope, Reason: d.Reason, Revision: d.Revision}
	}
	return nil
}
