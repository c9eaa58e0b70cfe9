package iam

import (
	"time"

	"github.com/civic-platform/security/internal/instant"
	"github.com/civic-platform/security/rbac"
)

// View is a read-only view of the policy snapshot an [Authorizer] answers
// from, at one instant: the model it was loaded from, the compiled policy,
// its revision and the instant the view answers for. Reports (package
// iam/reports) read a View, never the store, so they describe exactly what
// checks decide on and cost no database round trip.
//
// A View cannot change the snapshot: [View.Model] returns a deep copy and
// [View.Policy] is immutable once compiled. A View stays valid after the
// Authorizer reloads (it keeps the snapshot it was taken from), so a report
// built from one View is consistent even while the policy changes.
type View struct {
	s   *snapshot
	at  time.Time
	err error
}

// View returns a view of the snapshot in use now, at the Authorizer's
// clock ([WithClock]). The view of a closed Authorizer, or of one whose
// snapshot is stale ([WithMaxStaleness]), carries that error in
// [View.Err]; reports refuse such a view.
func (a *Authorizer) View() *View {
	s, at, err := a.loadAt()
	return &View{s: s, at: instant.Time(instant.Of(at)), err: err}
}

// Err reports why the view must not be used: [ErrClosed] when the
// Authorizer was closed, or a [*StaleError] (errors.Is(err, ErrStale))
// when its policy could not be confirmed current. A nil View is closed.
func (v *View) Err() error {
	if v == nil || v.s == nil {
		return ErrClosed
	}
	return v.err
}

// At returns the instant the view answers for: windows of temporary
// grants and waivers are judged at it.
func (v *View) At() time.Time {
	if v == nil {
		return time.Time{}
	}
	return v.at
}

// Revision returns the revision of the snapshot; 0 for a closed view.
func (v *View) Revision() int64 {
	if v == nil || v.s == nil {
		return 0
	}
	return v.s.revision
}

// Policy returns the compiled policy of the snapshot, which answers every
// question about what the model means (inheritance, composites, deny,
// wildcards, windows, memberships, the scope tree). It is immutable and
// shared; nil for a closed view.
func (v *View) Policy() *rbac.Policy {
	if v == nil || v.s == nil {
		return nil
	}
	return v.s.policy
}

// Model returns a deep copy of the model the snapshot was compiled from:
// the grants as stored (with their reasons), memberships, roles, scopes,
// conflict rules and waivers. The caller may modify the copy.
func (v *View) Model() Model {
	if v == nil || v.s == nil {
		return Model{}
	}
	return v.s.model.Clone()
}
