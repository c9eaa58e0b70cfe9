package session

import "github.com/civic-platform/security/iam"

// Authn returns what the session establishes about its caller, for the
// decisions that apply step-up ([iam.CheckAuthenticated], or an
// [iam.Request] with Authn in CheckMany): the subject, the names of the
// methods used ("password", "totp", "oidc", ...), MFA true only when a
// second factor was given ([MFADone]; pending or not required is false),
// and At, when the session started.
func (s Session) Authn() iam.Authn {
	var methods []string
	for _, n := range methodNames {
		if s.Methods.Has(n.m) {
			methods = append(methods, n.name)
		}
	}
	return iam.Authn{Subject: iam.Subject(s.Subject), Methods: methods, MFA: s.MFA == MFADone, At: s.Created}
}
