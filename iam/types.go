package iam

import (
	"context"
	"errors"
	"fmt"

	"github.com/civic-platform/security/rbac"
)

// Re-exported so that most services import only iam.
type (
	Subject     = rbac.Subject     // "user:alice", "group:clerks", "svc:permits-api"
	Permission  = rbac.Permission  // "permits.application.approve"
	Scope       = rbac.Scope       // "org", "dept:building", "ward:7"
	RoleID      = rbac.RoleID      // "permit-clerk"
	Model       = rbac.Model       // the whole policy as data
	Role        = rbac.Role        // a named set of rules
	Grant       = rbac.Grant       // a role assigned at a scope, optionally for a window
	Membership  = rbac.Membership  // a user in a group or org unit
	ScopeNode   = rbac.ScopeNode   // a scope and its parent
	Change      = rbac.Change      // one atomic policy edit
	GrantKey    = rbac.GrantKey    // identifies a grant
	Path        = rbac.Path        // user → group → grant → role → rule
	Step        = rbac.Step        // one hop of a Path
	Access      = rbac.Access      // the answer to WhoCan
	Holder      = rbac.Holder      // a subject that holds a permission
	RoleHolding = rbac.RoleHolding // a role that holds a permission
	// QuarantinedRow is a stored policy row the snapshot was loaded
	// without; see [Health.Quarantined].
	QuarantinedRow = rbac.QuarantinedRow
)

// OrgScope is the whole organisation.
const OrgScope = rbac.OrgScope

var (
	// ErrDenied is wrapped by every error that reports a policy denial.
	ErrDenied = errors.New("iam: access denied")

	// ErrInvalidInput is wrapped by errors reporting malformed input:
	// a bad permission, scope, subject or role, or an invalid policy.
	ErrInvalidInput = rbac.ErrInvalidInput

	// ErrNotFound is wrapped by errors reporting that a change names a role,
	// grant or membership that does not exist.
	ErrNotFound = rbac.ErrNotFound

	// ErrConflict is wrapped by errors refusing a change that would break
	// a segregation-of-duties rule; see [ConflictError].
	ErrConflict = rbac.ErrConflict

	// ErrExists is wrapped by errors refusing a change that adds what is
	// already there: a grant of a role to a subject at a scope that the
	// subject already holds (whatever its window). Revoke it first, or
	// write the new window with a change that revokes and grants.
	ErrExists = rbac.ErrExists

	// ErrChanged is wrapped by errors refusing a change whose
	// preconditions ([rbac.Change.ExpectGrants], [rbac.Change.ExpectWaivers])
	// no longer hold: someone changed the policy since it was read.
	ErrChanged = rbac.ErrChanged

	// ErrClosed is returned by methods called after [Authorizer.Close].
	ErrClosed = errors.New("iam: authorizer closed")

	// ErrReadOnly is returned by the writes of an [Admin] built without a
	// writer.
	ErrReadOnly = errors.New("iam: policy source is read-only")
)

// Decision is the answer to a check. The zero Decision denies.
type Decision struct {
	Allowed bool `json:"allowed"`
	// StepUp is set, with Allowed false, by a decision that knows how the
	// caller authenticated ([CheckAuthenticated], or a [Request] with
	// Authn) when the policy allows but the permission requires
	// multi-factor authentication ([WithMFARequired]) that the caller has
	// not done.
	StepUp bool `json:"step_up,omitempty"`
	// Reason says why, in words fit for a log line.
	Reason string `json:"reason"`
	// Revision is the policy revision the decision was made on.
	Revision int64 `json:"revision"`
}

// DeniedError explains a denial. errors.Is(err, ErrDenied) reports true for it.
type DeniedError struct {
	Subject    Subject
	Permission Permission
	Scope      Scope
	Reason     string
	Revision   int64
}

// Error implements the error interface.
func (e *DeniedError) Error() string {
	return fmt.Sprintf("iam: %s lacks %s at %s: %s", e.Subject, e.Permission, e.Scope, e.Reason)
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// Request is one check in a [Authorizer.CheckMany] batch.
type Request struct {
	Subject    Subject
	Permission Permission
	Scope      Scope
	// Authn, if set, is how the caller authenticated: the request is then
	// decided as [CheckAuthenticated] decides it (step-up for a permission
	// marked with [WithMFARequired] without a second factor). Its Subject
	// must be empty or equal Subject, else the request is invalid input.
	// Nil decides as [Authorizer.Check] does.
	Authn *Authn
}

// Explanation is a [Decision] with the paths that led to it.
type Explanation struct {
	Decision
	// Decisive is the path of the rule that decided; empty if nothing matched.
	Decisive Path `json:"decisive"`
	// Others are further paths to rules of the same effect.
	Others []Path `json:"others,omitempty"`
}

// String returns a human-readable form of e.
func (e Explanation) String() string {
	verdict := "deny"
	if e.Allowed {
		verdict = "allow"
	}
	if len(e.Decisive) == 0 {
		return verdict + ": " + e.Reason
	}
	return verdict + ": " + e.Decisive.String()
}

// PolicySource is what a decision needs from storage.
type PolicySource interface {
	// LoadPolicy returns the whole current policy and its revision.
	// Revisions increase with every change.
	LoadPolicy(ctx context.Context) (rbac.Model, int64, error)
}

// CompiledSource is a [PolicySource] that compiles the policy it loads (to
// validate it) and hands the compiled form over, so that the Authorizer does
// not compile the same model a second time; at 100,000 users that is a
// fifth of a full load. The stores in adapters/ implement it.
type CompiledSource interface {
	PolicySource
	// LoadCompiled is LoadPolicy that also returns the model compiled by
	// rbac.Compile. When the stored revision is not above after, it may
	// return only the revision, with an empty model and a nil policy, and
	// skip reading the rest. The policy is shared and never modified.
	LoadCompiled(ctx context.Context, after int64) (rbac.Model, *rbac.Policy, int64, error)
}

// PolicyWriter is what policy management needs from storage. One call is
// one transaction: Apply validates c against the stored policy and writes
// all of it or nothing, and returns the new revision.
type PolicyWriter interface {
	Apply(ctx context.Context, c rbac.Change) (revision int64, err error)
}

// Notifier reports that stored policy changed, perhaps in another process.
// Watch blocks until ctx is done, calling changed after each change (and
// after every reconnect, since changes may have been missed meanwhile).
// changed must not block; the Authorizer coalesces bursts.
type Notifier interface {
	Watch(ctx context.Context, changed func()) error
}

// NotifierFunc adapts a function to a [Notifier].
type NotifierFunc func(ctx context.Context, changed func()) error

// Watch calls f(ctx, changed).
func (f NotifierFunc) Watch(ctx context.Context, changed func()) error { return f(ctx, changed) }

// AuditSink receives events. Record is called on the request path,
// concurrently, and should return quickly; queue slow work. If it keeps the
// context past its return, wrap it with context.WithoutCancel.
type AuditSink interface {
	Record(ctx context.Context, e Event) error
}

// AuditFunc adapts an ordinary function to an [AuditSink].
type AuditFunc func(ctx context.Context, e Event) error

// Record calls f(ctx, e).
func (f AuditFunc) Record(ctx context.Context, e Event) error { return f(ctx, e) }
