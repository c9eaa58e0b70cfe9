package rbac

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/civic-platform/security/internal/instant"
	"github.com/civic-platform/security/internal/perm"
)

// ErrEmergency is wrapped by errors that refuse a change because it would
// break a rule of emergency access: a grant without a window or with one
// longer than [MaxEmergencyWindow], a role turned into or out of an
// emergency role while it is granted, or continuous emergency access longer
// than the cap. Such errors also wrap [ErrInvalidInput].
var ErrEmergency = errors.New("emergency access rule")

// EmergencyError explains a refusal by an emergency-access rule.
// errors.Is(err, ErrEmergency) and errors.Is(err, ErrInvalidInput) report
// true for it.
type EmergencyError struct {
	// Subject is the person whose emergency access the change would
	// extend past the cap, or the grant's subject; empty for a role rule.
	Subject Subject
	// Role is the emergency role concerned, if one is.
	Role RoleID
	// From and Until bound the stretch of continuous emergency access the
	// change would create, when the cap refused it.
	From, Until time.Time
	Reason      string
}

// Error implements the error interface.
func (e *EmergencyError) Error() string {
	var b strings.Builder
	b.WriteString("rbac: emergency access")
	if e.Subject != "" {
		b.WriteString(" of " + perm.Quote(string(e.Subject)))
	}
	if e.Role != "" {
		b.WriteString(" (role " + perm.Quote(string(e.Role)) + ")")
	}
	if !e.From.IsZero() {
		fmt.Fprintf(&b, " from %s until %s", e.From.UTC().Format(time.RFC3339), e.Until.UTC().Format(time.RFC3339))
	}
	return b.String() + ": " + e.Reason
}

// Is makes errors.Is report true for ErrEmergency and ErrInvalidInput.
func (e *EmergencyError) Is(target error) bool {
	return target == ErrEmergency || target == ErrInvalidInput
}

// ErrChanged is wrapped by the error that refuses a change whose
// preconditions ([Change.ExpectGrants]) do not hold: what the writer read
// has been changed or removed since.
var ErrChanged = errors.New("changed since read")

// ChangedError names the grant or waiver that is no longer stored as the
// change expected. errors.Is(err, ErrChanged) reports true for it.
type ChangedError struct {
	Grant  GrantKey  // the grant, if a grant changed
	Waiver WaiverKey // the waiver, if a waiver changed
}

// Error implements the error interface.
func (e *ChangedError) Error() string {
	if e.Waiver != (WaiverKey{}) {
		return fmt.Sprintf("rbac: waiver of %s for %s is no longer stored as read", e.Waiver.Rule, e.Waiver.Subject)
	}
	return fmt.Sprintf("rbac: grant %s is no longer stored as read", e.Grant)
}

// Is makes errors.Is(err, ErrChanged) true.
func (e *ChangedError) Is(target error) bool { return target == ErrChanged }

// expect checks that every grant in want is stored in m exactly as given.
func (m Model) expect(want []Grant) error {
	if len(want) == 0 {
		return nil
	}
	stored := make(map[GrantKey]Grant, len(want))
	for _, w := range want {
		stored[w.Key()] = Grant{}
	}
	found := make(map[GrantKey]bool, len(want))
	for _, g := range m.Grants {
		if _, ok := stored[g.Key()]; ok {
			stored[g.Key()] = g
			found[g.Key()] = true
		}
	}
	for _, w := range want {
		g := stored[w.Key()]
		if !found[w.Key()] || !g.NotBefore.Equal(w.NotBefore) || !g.NotAfter.Equal(w.NotAfter) || g.Reason != w.Reason {
			return &ChangedError{Grant: w.Key()}
		}
	}
	return nil
}

// expectWaivers checks that every waiver in want is stored in m exactly as
// given.
func (m Model) expectWaivers(want []Waiver) error {
	for _, w := range want {
		i := slices.IndexFunc(m.Waivers, func(x Waiver) bool { return x.Key() == w.Key() })
		if i < 0 {
			return &ChangedError{Waiver: w.Key()}
		}
		x := m.Waivers[i]
		if x.ApprovedBy != w.ApprovedBy || x.Reason != w.Reason || !x.NotBefore.Equal(w.NotBefore) || !x.NotAfter.Equal(w.NotAfter) {
			return &ChangedError{Waiver: w.Key()}
		}
	}
	return nil
}

// IsEmergency reports whether r is an emergency role: it is marked
// Emergency, or inherits (directly or through other roles) one that is.
func (p *Policy) IsEmergency(r RoleID) bool {
	i, ok := p.roleIdx[r]
	return ok && p.roles[i].emergency
}

// EmergencyRoles returns the emergency roles of m: those marked Emergency
// and every role that inherits one, directly or through other roles.
func EmergencyRoles(m Model) map[RoleID]bool {
	return emergencyRoles(m.Roles)
}

// EmergencyRolesAfter returns the emergency roles of m once the role
// changes of c are applied: its PutRoles replace or add roles and its
// DeleteRoles remove them. The rest of c (grants, revocations,
// preconditions) plays no part, so the answer is there whether or not
// [Update] would accept c; a writer uses it to decide which grants of c
// activate emergency access before the store has judged the change.
func EmergencyRolesAfter(m Model, c Change) map[RoleID]bool {
	if len(c.PutRoles)+len(c.DeleteRoles) == 0 {
		return emergencyRoles(m.Roles)
	}
	roles := make([]Role, 0, len(m.Roles)+len(c.PutRoles))
	for _, r := range m.Roles {
		if !slices.Contains(c.DeleteRoles, r.ID) && !slices.ContainsFunc(c.PutRoles, func(p Role) bool { return p.ID == r.ID }) {
			roles = append(roles, r)
		}
	}
	return emergencyRoles(append(roles, c.PutRoles...))
}

// emergencyRoles decides which of roles are emergency roles, by the rule
// Compile folds into [Policy.IsEmergency].
func emergencyRoles(roles []Role) map[RoleID]bool {
	parents := make(map[RoleID][]RoleID, len(roles))
	flagged := make(map[RoleID]bool, len(roles))
	for _, r := range roles {
		parents[r.ID] = append(parents[r.ID], r.Inherits...)
		flagged[r.ID] = flagged[r.ID] || r.Emergency
	}
	out := make(map[RoleID]bool, len(roles))
	state := make(map[RoleID]uint8, len(roles)) // 1 visiting, 2 done
	var visit func(id RoleID) bool
	visit = func(id RoleID) bool {
		switch state[id] {
		case 1: // a cycle: Compile refuses the model; fail closed
			return true
		case 2:
			return out[id]
		}
		state[id] = 1
		e := flagged[id]
		for _, parent := range parents[id] {
			e = visit(parent) || e
		}
		state[id] = 2
		if e {
			out[id] = true
		}
		return e
	}
	for _, r := range roles {
		visit(r.ID)
	}
	return out
}

type ewindow struct{ from, until time.Time }

// emergencyWindows returns the windows of emergency access of every user
// and service account of m: those of every grant of an emergency role that
// reaches them — their own grants and those of the groups and org units
// they belong to, at any scope — and of the grants in extra.
func emergencyWindows(m Model, emergency map[RoleID]bool, extra []Grant) map[Subject][]ewindow {
	if len(emergency) == 0 {
		return nil
	}
	holders := map[Subject][]ewindow{}
	add := func(g Grant) {
		from, until := g.NotBefore, g.NotAfter
		if from.IsZero() {
			from = instant.Earliest()
		}
		if until.IsZero() {
			until = instant.Latest()
		}
		holders[g.Subject] = append(holders[g.Subject], ewindow{from, until})
	}
	for _, g := range m.Grants {
		if emergency[g.Role] {
			add(g)
		}
	}
	for _, g := range extra {
		add(g)
	}
	if len(holders) == 0 {
		return nil
	}
	person := map[Subject][]ewindow{}
	for sub, ws := range holders {
		if sub.IsPrincipal() {
			person[sub] = append(person[sub], ws...)
		}
	}
	seen := map[Membership]bool{}
	for _, ms := range m.Members {
		if ws, ok := holders[ms.Group]; ok && ms.Member.IsPrincipal() && !seen[ms] {
			seen[ms] = true
			person[ms.Member] = append(person[ms.Member], ws...)
		}
	}
	return person
}

// spanOf returns the span of the windows ws that have not ended at at:
// from the earliest start to the latest end. ok is false when every window
// has ended (a zero at ends none).
func spanOf(ws []ewindow, at time.Time) (from, until time.Time, ok bool) {
	for _, w := range ws {
		if !at.IsZero() && !at.Before(w.until) {
			continue // ended
		}
		if !ok || w.from.Before(from) {
			from = w.from
		}
		if !ok || w.until.After(until) {
			until = w.until
		}
		ok = true
	}
	return from, until, ok
}

// checkWrite applies the rules for writing grants (see [Update]) to the
// change c, which turns before into after. after has compiled.
func checkWrite(before, after Model, c Change) error {
	at := c.At
	fresh := make(map[GrantKey]bool, len(c.Grant))
	for _, g := range c.Grant {
		fresh[g.Key()] = true
		if !at.IsZero() && !g.NotAfter.IsZero() && !at.Before(g.NotAfter) {
			return &InvalidError{Where: "grant", Kind: "grant", Value: g.Key().String(),
				Reason: "its window ended at " + g.NotAfter.UTC().Format(time.RFC3339Nano) + ", before the change was made"}
		}
	}
	if !after.ImplicitScopes && len(c.Grant) > 0 {
		declared := make(map[Scope]bool, len(after.Scopes))
		for _, s := range after.Scopes {
			declared[s.Scope] = true
		}
		for _, g := range c.Grant {
			if g.Scope != OrgScope && !declared[g.Scope] {
				return &InvalidError{Where: "grant " + g.Key().String(), Kind: "scope", Value: perm.Quote(string(g.Scope)),
					Reason: "not declared in the scope tree (declare it, or opt into implicit scopes)"}
			}
		}
	}
	return checkEmergency(before, after, at, fresh)
}

// CheckEmergencyReplace applies the emergency-access rules of [Update] to
// replacing model before with model after as a whole (an import, or a
// store's Replace) at instant at: a role may not become or stop being an
// emergency role while grants of it that both models hold have not ended,
// and no person's emergency access may pass the cap or be extended while
// in force (see [Update]). It returns nil or an [*EmergencyError]. Grants
// in after that before does not hold with the same window are new.
func CheckEmergencyReplace(before, after Model, at time.Time) error {
	type win struct{ from, until int64 }
	had := make(map[GrantKey]win, len(before.Grants))
	for _, g := range before.Grants {
		had[g.Key()] = win{g.NotBefore.UnixNano(), g.NotAfter.UnixNano()}
	}
	fresh := map[GrantKey]bool{}
	for _, g := range after.Grants {
		if w, ok := had[g.Key()]; !ok || w != (win{g.NotBefore.UnixNano(), g.NotAfter.UnixNano()}) {
			fresh[g.Key()] = true
		}
	}
	return checkEmergency(before, after, at, fresh)
}

// checkEmergency applies the emergency-access rules to a write that turns
// before into after at instant at; fresh are the grants the write makes.
func checkEmergency(before, after Model, at time.Time, fresh map[GrantKey]bool) error {
	eb, ea := EmergencyRoles(before), EmergencyRoles(after)
	if len(eb)+len(ea) == 0 {
		return nil
	}
	// A role may not become, or stop being, an emergency role while grants
	// of it made before this change have not ended.
	existed := make(map[RoleID]bool, len(before.Roles))
	for _, r := range before.Roles {
		existed[r.ID] = true
	}
	for _, g := range after.Grants {
		if eb[g.Role] == ea[g.Role] || !existed[g.Role] || fresh[g.Key()] {
			continue
		}
		if !at.IsZero() && !g.NotAfter.IsZero() && !at.Before(g.NotAfter) {
			continue // ended: grants nothing
		}
		verb := "become"
		if eb[g.Role] {
			verb = "stop being"
		}
		return &EmergencyError{Role: g.Role, Reason: "a role cannot " + verb + " an emergency role while it is granted (" + g.Key().String() + ")"}
	}
	// The cap, per user and service account.
	wb, wa := emergencyWindows(before, eb, nil), emergencyWindows(after, ea, nil)
	subs := make([]Subject, 0, len(wa))
	for sub := range wa {
		subs = append(subs, sub)
	}
	slices.Sort(subs)
	for _, sub := range subs {
		from, until, ok := spanOf(wa[sub], at)
		if !ok {
			continue
		}
		bfrom, buntil, had := spanOf(wb[sub], at)
		inForce := !at.IsZero() && slices.ContainsFunc(wb[sub], func(w ewindow) bool { return !at.Before(w.from) && at.Before(w.until) })
		if inForce && until.After(buntil) {
			return &EmergencyError{Subject: sub, From: from, Until: until,
				Reason: "emergency access in force until " + buntil.UTC().Format(time.RFC3339) +
					" cannot be extended or followed by another window; going further takes a new activation once it has ended"}
		}
		if until.Sub(from) <= MaxEmergencyWindow {
			continue
		}
		// A span that was over the cap before the change (written by
		// others, or under older rules) may shrink, never grow.
		if had && buntil.Sub(bfrom) > MaxEmergencyWindow && !from.Before(bfrom) && !until.After(buntil) {
			continue
		}
		return &EmergencyError{Subject: sub, From: from, Until: until,
			Reason: fmt.Sprintf("emergency access would span %s, more than %s", until.Sub(from), MaxEmergencyWindow)}
	}
	return nil
}

// EmergencyGrants returns the grants of emergency roles that are in force
// for sub at instant at at a scope covering s — its own and those of its
// groups and org units — in the order checks see them; an empty s means
// at any scope. These are the grants a check flagged with
// [Result.Emergency] was made under. It is meant for audit records, not
// for the hot path.
func (p *Policy) EmergencyGrants(sub Subject, s Scope, at time.Time) []GrantKey {
	si, ok := p.subject(sub)
	if !ok {
		return nil
	}
	sc := int32(-1)
	if i, ok := p.scope(s); ok {
		sc = i
	}
	anywhere := s == ""
	t := instant.Of(at)
	var out []GrantKey
	sj := &p.subjects[si]
	for _, gi := range p.flat[sj.start:sj.end] {
		g := &p.grants[gi]
		if !g.emergency || t < g.from || t >= g.until || !anywhere && !p.covers(g.scope, sc) {
			continue
		}
		k := GrantKey{Subject: p.subjects[g.holder].name, Role: p.roles[g.role].role.ID, Scope: p.scopes[g.scope].name}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
