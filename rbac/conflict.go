package rbac

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/civic-platform/security/internal/instant"
	"github.com/civic-platform/security/internal/perm"
)

// ErrConflict is wrapped by errors that refuse a change because it would
// break a segregation-of-duties rule ([ConflictRule]).
var ErrConflict = errors.New("conflict")

// ConflictRule is a segregation-of-duties rule: no user or service account
// may hold both of two roles, or both of two permissions, during windows
// that overlap, at any scopes: a PO creator in one department is not an
// approver in another.
//
// A rule names either two roles or two concrete permissions, not both.
// A role is held through a grant of it or of any role that inherits it
// (so a composite that contains both roles is a violation on its own). A
// permission is held through a grant of a role whose rules allow it and do
// not themselves deny it; deny rules of other grants are not taken into
// account, so a rule errs on the side of reporting.
//
// Holdings are taken through every path: grants to the principal itself
// and grants to the groups and org units it belongs to. Two holdings
// conflict when their validity windows intersect at some instant — two
// acting roles that never run at the same time do not conflict — wherever
// their scopes are.
type ConflictRule struct {
	// ID names the rule in errors and reports ("po-create-approve"): the
	// same characters as a role id.
	ID string
	// Description says why the two must be kept apart, for reviewers.
	Description string
	// Roles are the two roles no one may hold together.
	Roles [2]RoleID
	// Permissions are the two permissions no one may hold together.
	Permissions [2]Permission
}

func (r ConflictRule) clone() ConflictRule { return r }

// IsRoleRule reports whether r names two roles (rather than two
// permissions).
func (r ConflictRule) IsRoleRule() bool { return r.Roles != [2]RoleID{} }

// Sides returns the two things the rule keeps apart, as text.
func (r ConflictRule) Sides() [2]string {
	if r.IsRoleRule() {
		return [2]string{"role:" + string(r.Roles[0]), "role:" + string(r.Roles[1])}
	}
	return [2]string{string(r.Permissions[0]), string(r.Permissions[1])}
}

// Waiver accepts the violations of one conflict rule by one principal: a
// manager (ApprovedBy, never the principal itself, and a user or service
// account rather than a group the principal could belong to) approved it,
// for a reason, for the window [NotBefore, NotAfter). A waived violation
// is reported as waived rather than hidden, and only while the waiver is
// in force; before NotBefore and from NotAfter on it is reported as a
// violation. A change may create a violation that a waiver permits only
// while that waiver is in force at the change's instant ([Change.At]): a
// waiver that has lapsed or not yet begun permits nothing new.
type Waiver struct {
	Rule    string
	Subject Subject // a user or service account
	// ApprovedBy is who accepted the risk: a user or service account other
	// than Subject.
	ApprovedBy Subject
	Reason     string
	// NotBefore starts the waiver; zero means already in force.
	NotBefore time.Time
	// NotAfter ends the waiver; zero means until removed.
	NotAfter time.Time
}

// Key identifies the waiver: one per rule and subject.
func (w Waiver) Key() WaiverKey { return WaiverKey{Rule: w.Rule, Subject: w.Subject} }

// ActiveAt reports whether w is in force at t: NotBefore ≤ t < NotAfter,
// a zero bound being open.
func (w Waiver) ActiveAt(t time.Time) bool {
	return (w.NotBefore.IsZero() || !t.Before(w.NotBefore)) && (w.NotAfter.IsZero() || t.Before(w.NotAfter))
}

// WaiverKey identifies a waiver.
type WaiverKey struct {
	Rule    string
	Subject Subject
}

// Holding is one side of a [Violation]: the grant through which the
// principal holds a role or permission, and the path from the principal to
// it (user → group → grant → role → … → role or allow rule).
type Holding struct {
	Grant GrantKey
	Path  Path
}

// Violation is a principal holding both sides of a conflict rule.
type Violation struct {
	Rule        string
	Description string
	Subject     Subject
	// First and Second hold the rule's first and second role or
	// permission. They name the same grant when one role carries both.
	First, Second Holding
	// From and Until bound the time during which both are held: zero From
	// means "already", zero Until means "until revoked".
	From, Until time.Time
	// Waiver is the waiver in force that accepts the violation, or nil.
	Waiver *Waiver
}

// Key identifies v across policy revisions.
func (v Violation) Key() string {
	return v.Rule + "\x00" + string(v.Subject) + "\x00" + v.First.Grant.String() + "\x00" + v.Second.Grant.String()
}

// ConflictError refuses a change that would create violations of conflict
// rules. Rule, Subject, First and Second describe the first violation;
// Violations lists them all. errors.Is(err, ErrConflict) reports true.
type ConflictError struct {
	Rule          string
	Subject       Subject
	First, Second Path
	Violations    []Violation
}

// Error implements the error interface.
func (e *ConflictError) Error() string {
	msg := fmt.Sprintf("rbac: conflict rule %s: %s would hold both through %s and through %s",
		perm.Quote(e.Rule), e.Subject, e.First, e.Second)
	if n := len(e.Violations) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more violations)", n)
	}
	return msg
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// applyConflicts applies the conflict-rule and waiver parts of c to m.
func (m *Model) applyConflicts(c Change) error {
	for _, k := range c.DeleteWaivers {
		i := slices.IndexFunc(m.Waivers, func(w Waiver) bool { return w.Key() == k })
		if i < 0 {
			return &NotFoundError{Kind: "waiver", Name: k.Rule + " for " + string(k.Subject)}
		}
		m.Waivers = slices.Delete(m.Waivers, i, i+1)
	}
	for _, id := range c.DeleteConflicts {
		i := slices.IndexFunc(m.Conflicts, func(r ConflictRule) bool { return r.ID == id })
		if i < 0 {
			return &NotFoundError{Kind: "conflict rule", Name: id}
		}
		m.Conflicts = slices.Delete(m.Conflicts, i, i+1)
		m.Waivers = slices.DeleteFunc(m.Waivers, func(w Waiver) bool { return w.Rule == id })
	}
	for _, r := range c.PutConflicts {
		if i := slices.IndexFunc(m.Conflicts, func(x ConflictRule) bool { return x.ID == r.ID }); i >= 0 {
			m.Conflicts[i] = r
		} else {
			m.Conflicts = append(m.Conflicts, r)
		}
	}
	for _, w := range c.PutWaivers {
		if i := slices.IndexFunc(m.Waivers, func(x Waiver) bool { return x.Key() == w.Key() }); i >= 0 {
			m.Waivers[i] = w
		} else {
			m.Waivers = append(m.Waivers, w)
		}
	}
	return nil
}

// sodIndex is the compiled form of a model's conflict rules and waivers.
type sodIndex struct {
	rules   []sodRule
	byID    map[string]int32
	waivers map[WaiverKey]Waiver
	order   []WaiverKey       // waivers in model order
	members map[int32][]int32 // container subject -> its principal members
	byRole  [][]int32         // role -> the rules one of whose sides it carries
}

type sodRule struct {
	rule  ConflictRule
	sides [2]sodSide
}

// sodSide is one side of a rule: a role (incl marks the roles that include
// it) or a permission (q resolves it).
type sodSide struct {
	role int32 // -1 for a permission side
	incl []bool
	perm Permission
	q    Query
}

// holds reports whether role r carries side d.
func (p *Policy) holds(d *sodSide, r int32) bool {
	if d.role >= 0 {
		return d.incl[r]
	}
	return d.q.hit(p.allowBits(r)) && !d.q.hit(p.denyBits(r))
}

func (p *Policy) compileConflicts(m Model) error {
	if len(m.Conflicts) == 0 && len(m.Waivers) == 0 {
		return nil
	}
	ix := &sodIndex{byID: make(map[string]int32, len(m.Conflicts)), waivers: make(map[WaiverKey]Waiver, len(m.Waivers))}
	for _, r := range m.Conflicts {
		if why := validID(r.ID); why != "" {
			return invalid("conflict rule", r.ID, why)
		}
		if _, dup := ix.byID[r.ID]; dup {
			return invalid("conflict rule", r.ID, "declared twice")
		}
		sr, err := p.compileRule(r)
		if err != nil {
			return err
		}
		ix.byID[r.ID] = int32(len(ix.rules))
		ix.rules = append(ix.rules, sr)
	}
	for _, w := range m.Waivers {
		if _, ok := ix.byID[w.Rule]; !ok {
			return fmt.Errorf("rbac: waiver for %s names %w", w.Subject, &NotFoundErrorInvalid{Kind: "conflict rule", Name: perm.Quote(w.Rule)})
		}
		if err := checkWaiver(w); err != nil {
			return err
		}
		if _, dup := ix.waivers[w.Key()]; dup {
			return invalid("waiver", w.Rule+" for "+string(w.Subject), "declared twice")
		}
		ix.waivers[w.Key()] = w
		ix.order = append(ix.order, w.Key())
	}
	p.indexConflicts(ix)
	p.sod = ix
	return nil
}

// compileRule resolves the two sides of conflict rule r: two declared
// roles (with every role that includes each), or two permissions.
func (p *Policy) compileRule(r ConflictRule) (sodRule, error) {
	sr := sodRule{rule: r}
	roleRule, permRule := r.IsRoleRule(), r.Permissions != [2]Permission{}
	switch {
	case roleRule && permRule:
		return sr, invalid("conflict rule", r.ID, "names both roles and permissions; a rule keeps apart two roles or two permissions")
	case roleRule:
		if r.Roles[0] == r.Roles[1] {
			return sr, invalid("conflict rule", r.ID, "names the same role twice")
		}
		for i, id := range r.Roles {
			ri, ok := p.roleIdx[id]
			if !ok {
				if err := id.Validate(); err != nil {
					return sr, fmt.Errorf("rbac: conflict rule %s: %w", perm.Quote(r.ID), err)
				}
				return sr, fmt.Errorf("rbac: conflict rule %s names %w", perm.Quote(r.ID), &NotFoundErrorInvalid{Kind: "role", Name: perm.Quote(string(id))})
			}
			sr.sides[i] = sodSide{role: ri, incl: p.includers(ri)}
		}
	case permRule:
		if r.Permissions[0] == r.Permissions[1] {
			return sr, invalid("conflict rule", r.ID, "names the same permission twice")
		}
		for i, x := range r.Permissions {
			q, err := p.Resolve(x, OrgScope)
			if err != nil {
				return sr, fmt.Errorf("rbac: conflict rule %s: %w", perm.Quote(r.ID), err)
			}
			sr.sides[i] = sodSide{role: -1, perm: x, q: q}
		}
	default:
		return sr, invalid("conflict rule", r.ID, "names no roles and no permissions")
	}
	return sr, nil
}

// checkWaiver validates one waiver: a principal waived, approved by
// another principal, for a window that does not end before it starts, with
// a reason.
func checkWaiver(w Waiver) error {
	if err := w.Subject.Validate(); err != nil {
		return fmt.Errorf("rbac: waiver: %w", err)
	}
	if !w.Subject.IsPrincipal() {
		return invalid("waiver", string(w.Subject), "waivers name a user or service account")
	}
	if err := w.ApprovedBy.Validate(); err != nil {
		return fmt.Errorf("rbac: waiver approver: %w", err)
	}
	if w.ApprovedBy == w.Subject {
		return invalid("waiver", string(w.Subject), "a waiver cannot be approved by the subject it waives")
	}
	if !w.ApprovedBy.IsPrincipal() {
		return invalid("waiver", string(w.Subject), "a waiver is approved by a user or service account, not a group or org unit")
	}
	if !w.NotBefore.IsZero() && !w.NotAfter.IsZero() && !w.NotAfter.After(w.NotBefore) {
		return invalid("waiver", string(w.Subject), "the waiver ends before it starts")
	}
	if strings.TrimSpace(w.Reason) == "" {
		return invalid("waiver", string(w.Subject), "a waiver needs a reason")
	}
	return nil
}

// indexConflicts lists, per role, the rules a grant of it may touch, and
// per group or unit, its members, so that a change checks only what it
// can affect.
func (p *Policy) indexConflicts(ix *sodIndex) {
	ix.byRole = make([][]int32, len(p.roles))
	for ri := range ix.rules {
		r := &ix.rules[ri]
		for role := range p.roles {
			if p.holds(&r.sides[0], int32(role)) || p.holds(&r.sides[1], int32(role)) {
				ix.byRole[role] = append(ix.byRole[role], int32(ri))
			}
		}
	}
	ix.members = map[int32][]int32{}
	for i := range p.subjects {
		s := &p.subjects[i]
		for _, c := range p.members[s.mstart:s.mend] {
			ix.members[c] = append(ix.members[c], int32(i))
		}
	}
}

// includers marks the roles whose inheritance closure contains target.
func (p *Policy) includers(target int32) []bool {
	const (
		unknown = iota
		yes
		no
	)
	state := make([]uint8, len(p.roles))
	var visit func(r int32) bool
	visit = func(r int32) bool {
		if r == target {
			return true
		}
		switch state[r] {
		case yes:
			return true
		case no:
			return false
		}
		state[r] = no // Compile refused cycles; this only guards the recursion
		for _, parent := range p.roles[r].role.Inherits {
			if visit(p.roleIdx[parent]) {
				state[r] = yes
				return true
			}
		}
		return false
	}
	out := make([]bool, len(p.roles))
	for i := range p.roles {
		out[i] = visit(int32(i))
	}
	return out
}

// Conflicts returns the policy's conflict rules in model order.
func (p *Policy) Conflicts() []ConflictRule {
	if p.sod == nil {
		return nil
	}
	out := make([]ConflictRule, len(p.sod.rules))
	for i, r := range p.sod.rules {
		out[i] = r.rule
	}
	return out
}

// Waivers returns the policy's waivers in model order.
func (p *Policy) Waivers() []Waiver {
	if p.sod == nil {
		return nil
	}
	out := make([]Waiver, len(p.sod.order))
	for i, k := range p.sod.order {
		out[i] = p.sod.waivers[k]
	}
	return out
}

// overlap returns the instants during which grants a and b are both in
// force; ok is false if they never are. Their scopes do not matter: a rule
// keeps its two sides apart wherever they are held.
func (p *Policy) overlap(a, b *cgrant) (from, until int64, ok bool) {
	from, until = max(a.from, b.from), min(a.until, b.until)
	return from, until, from < until
}

// scan calls fn for every pair of grants (a, b) through which principal si
// holds the first and second side of rule ri at overlapping times.
func (p *Policy) scan(si int32, fn func(ri int32, a, b int32, from, until int64)) {
	s := &p.subjects[si]
	gs := p.flat[s.start:s.end]
	if len(gs) == 0 {
		return
	}
	for ri := range p.sod.rules {
		r := &p.sod.rules[ri]
		for _, a := range gs {
			ga := &p.grants[a]
			if !p.holds(&r.sides[0], ga.role) {
				continue
			}
			for _, b := range gs {
				gb := &p.grants[b]
				if !p.holds(&r.sides[1], gb.role) {
					continue
				}
				if from, until, ok := p.overlap(ga, gb); ok {
					fn(int32(ri), a, b, from, until)
				}
			}
		}
	}
}

func (p *Policy) grantKey(gi int32) GrantKey {
	g := &p.grants[gi]
	return GrantKey{Subject: p.subjects[g.holder].name, Role: p.roles[g.role].role.ID, Scope: p.scopes[g.scope].name}
}

// violation builds the report of one violation.
func (p *Policy) violation(si, ri, a, b int32, from, until int64) Violation {
	r := &p.sod.rules[ri]
	v := Violation{
		Rule:        r.rule.ID,
		Description: r.rule.Description,
		Subject:     p.subjects[si].name,
		First:       Holding{Grant: p.grantKey(a), Path: p.sidePath(si, a, &r.sides[0])},
		Second:      Holding{Grant: p.grantKey(b), Path: p.sidePath(si, b, &r.sides[1])},
	}
	if from > 0 {
		v.From = time.Unix(0, from).UTC()
	}
	if until < math.MaxInt64 {
		v.Until = time.Unix(0, until).UTC()
	}
	return v
}

// sidePath is the path from principal si through grant gi to side d.
func (p *Policy) sidePath(si, gi int32, d *sodSide) Path {
	g := &p.grants[gi]
	path := Path{{Kind: StepSubject, Name: string(p.subjects[si].name)}}
	if g.holder != si {
		path = append(path, Step{Kind: StepGroup, Name: string(p.subjects[g.holder].name)})
	}
	path = append(path, Step{Kind: StepGrant, Name: p.grantText(g)})
	if d.role >= 0 {
		for _, r := range p.roleChain(g.role, d) {
			path = append(path, Step{Kind: StepRole, Name: string(p.roles[r].role.ID)})
		}
		return path
	}
	chain, rule := p.ruleChain(g.role, &d.q, d.perm, StepAllow)
	for _, r := range chain {
		path = append(path, Step{Kind: StepRole, Name: string(p.roles[r].role.ID)})
	}
	return append(path, Step{Kind: StepAllow, Name: string(rule)})
}

// roleChain is the shortest chain of roles from r to the side's role,
// through roles that include it.
func (p *Policy) roleChain(r int32, d *sodSide) []int32 {
	prev := map[int32]int32{r: -1}
	queue := []int32{r}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == d.role {
			var chain []int32
			for c := cur; c >= 0; c = prev[c] {
				chain = append(chain, c)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, parent := range p.roles[cur].role.Inherits {
			pi := p.roleIdx[parent]
			if _, seen := prev[pi]; !seen && d.incl[pi] {
				prev[pi] = cur
				queue = append(queue, pi)
			}
		}
	}
	return []int32{r}
}

// Violations lists every violation of a conflict rule present in the
// policy whose overlap has not ended before at, including future ones (two
// grants that will overlap) and waived ones (Waiver set when a waiver is in
// force at at). Violations that existed before their rule was added are
// listed like any other. Sorted by subject, rule and grants.
func (p *Policy) Violations(at time.Time) []Violation {
	if p.sod == nil || len(p.sod.rules) == 0 {
		return nil
	}
	t := instant.Of(at)
	var out []Violation
	for i := range p.subjects {
		si := int32(i)
		if !p.subjects[si].name.IsPrincipal() {
			continue
		}
		p.scan(si, func(ri, a, b int32, from, until int64) {
			if until <= t {
				return
			}
			v := p.violation(si, ri, a, b, from, until)
			if w, ok := p.sod.waivers[WaiverKey{Rule: v.Rule, Subject: v.Subject}]; ok && w.ActiveAt(at) {
				v.Waiver = &w
			}
			out = append(out, v)
		})
	}
	sortViolations(out)
	return out
}

// ViolationsOf lists the violations of principal sub, as [Policy.Violations]
// does for everyone.
func (p *Policy) ViolationsOf(sub Subject, at time.Time) []Violation {
	si, ok := p.subject(sub)
	if p.sod == nil || !ok || !sub.IsPrincipal() {
		return nil
	}
	t := instant.Of(at)
	var out []Violation
	p.scan(si, func(ri, a, b int32, from, until int64) {
		if until <= t {
			return
		}
		v := p.violation(si, ri, a, b, from, until)
		if w, ok := p.sod.waivers[WaiverKey{Rule: v.Rule, Subject: v.Subject}]; ok && w.ActiveAt(at) {
			v.Waiver = &w
		}
		out = append(out, v)
	})
	sortViolations(out)
	return out
}

func sortViolations(vs []Violation) {
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := &vs[i], &vs[j]
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		if x, y := a.First.Grant.String(), b.First.Grant.String(); x != y {
			return x < y
		}
		return a.Second.Grant.String() < b.Second.Grant.String()
	})
}

// CheckChange reports whether change c, which turned model before into the
// compiled policy after, lets someone hold both sides of a conflict rule in
// a way they did not before. It returns nil or a [*ConflictError].
// [Update] calls it; a store that writes without Update calls it itself,
// and [CheckReplace] does the same for a whole new model.
//
// What is compared is the violation as [Policy.Violations] reports it: a
// principal, a rule, the two grants through which the principal holds the
// rule's two sides, and the window during which it holds both. The change
// is refused if, after it, some principal has a violation that no waiver
// in force permits and that
//
//   - did not exist before: a new grant, membership, role edit or path; or
//   - existed before but is larger now: its window starts earlier or ends
//     later, or one of its grants reaches scopes it did not reach (the
//     scope tree moved a scope under it).
//
// Before and after are both judged by the rules of the changed model. A
// violation that predates its rule (grandfathered) is therefore accepted
// exactly as it is and no further: renewing it (revoke and grant again),
// extending its window, moving it to a wider scope or adding a second path
// to it is refused, whatever else the same change edits.
//
// Windows are compared with each other, not with c.At or a clock: a grant
// that has ended but was not yet removed still counts, and no choice of
// c.At hides a violation. c.At decides only which waivers are in force: a
// [Waiver] for the principal and rule permits a violation only if it is in
// force at c.At (NotBefore ≤ c.At < NotAfter); when c.At is zero, only a
// waiver without a window counts.
//
// Assignments and memberships — the frequent changes — are checked only
// for the principals they reach (the grantee, or the members of a group or
// org unit grantee), since no one else gains anything. A change that edits
// roles or the scope tree can create violations anywhere, and is checked by
// comparing every violation before and after.
func CheckChange(before Model, after *Policy, c Change) error {
	if after == nil || after.sod == nil || len(after.sod.rules) == 0 {
		return nil
	}
	if len(c.PutRoles) > 0 || len(c.DeleteRoles) > 0 || len(c.PutScopes) > 0 {
		return checkWhole(before, after, c.At)
	}
	if len(c.Grant) == 0 && len(c.Join) == 0 {
		return nil // removals and rule or waiver edits never add to a violation
	}
	if len(c.Revoke) == 0 && len(c.Join) == 0 && len(c.Leave) == 0 {
		return checkGrants(after, c)
	}
	affected := after.reachedBy(c)
	// What each of them held before, from the model before the change
	// (roles are the same on both sides).
	prior := after.holdingsIn(before, affected)
	chk := sodCheck{after: after, at: c.At}
	for _, si := range affected {
		hs := after.holdingsOf(si)
		old := prior[after.subjects[si].name]
		fresh, rules := after.freshHoldings(old, hs)
		if len(rules) == 0 {
			continue
		}
		prev := map[sodKey]sodSpan{}
		after.pairs(old, rules, func(ri int32, a, b int, from, until int64) {
			prev[sodKey{rule: ri, a: old[a].key, b: old[b].key}] = sodSpan{from, until}
		})
		chk.compare(si, hs, rules, fresh, prev, nil)
	}
	return conflictError(chk.found)
}

// reachedBy returns the principals change c reaches through its grants
// and joins, in a stable order: a grant to a group or unit reaches its
// members.
func (p *Policy) reachedBy(c Change) []int32 {
	var affected []int32
	seen := map[int32]bool{}
	reach := func(si int32) {
		if !seen[si] && p.subjects[si].name.IsPrincipal() {
			seen[si] = true
			affected = append(affected, si)
		}
	}
	for _, g := range c.Grant {
		hi, ok := p.subject(g.Subject)
		if !ok {
			continue
		}
		if g.Subject.IsPrincipal() {
			reach(hi)
			continue
		}
		for _, si := range p.sod.members[hi] {
			reach(si)
		}
	}
	for _, ms := range c.Join {
		if si, ok := p.subject(ms.Member); ok {
			reach(si)
		}
	}
	return affected
}

// freshHoldings marks the holdings in hs that old does not have (new, or
// with a changed window) and returns the rules they touch: only a pair
// with such a holding can be a new or larger violation.
func (p *Policy) freshHoldings(old, hs []sodHolding) (fresh []bool, rules []int32) {
	had := make(map[sodHolding]bool, len(old))
	for _, h := range old {
		h.gi = -1
		had[h] = true
	}
	fresh = make([]bool, len(hs))
	for i, h := range hs {
		h.gi = -1
		fresh[i] = !had[h]
	}
	for i, h := range hs {
		if fresh[i] {
			for _, ri := range p.sod.byRole[h.role] {
				if !slices.Contains(rules, ri) {
					rules = append(rules, ri)
				}
			}
		}
	}
	return fresh, rules
}

// checkGrants is CheckChange for a change that grants and takes nothing
// away: every grant it adds is new (a renewal revokes first), so every
// violation through one of them that is in force from c.At on and not
// waived is new. Only the rules the granted roles touch are looked at, and
// only pairs with a new grant; nothing is allocated unless one is found.
func checkGrants(after *Policy, c Change) error {
	chk := sodCheck{after: after, at: c.At}
	var seen map[[4]int32]bool
	report := func(si, ri, a, b int32, from, until int64) {
		if chk.waived(si, ri) {
			return
		}
		k := [4]int32{si, ri, a, b}
		if seen[k] {
			return
		}
		if seen == nil {
			seen = map[[4]int32]bool{}
		}
		seen[k] = true
		chk.found = append(chk.found, after.violation(si, ri, a, b, from, until))
	}
	for _, g := range c.Grant {
		hi, ok := after.subject(g.Subject)
		if !ok {
			continue
		}
		gi := after.ownGrant(hi, g.Key())
		if gi < 0 || len(after.sod.byRole[after.grants[gi].role]) == 0 {
			continue
		}
		if g.Subject.IsPrincipal() {
			after.scanWith(hi, gi, report)
			continue
		}
		for _, si := range after.sod.members[hi] {
			after.scanWith(si, gi, report)
		}
	}
	return conflictError(chk.found)
}

// ownGrant returns the index of the grant with key k made to subject hi, or -1.
func (p *Policy) ownGrant(hi int32, k GrantKey) int32 {
	s := &p.subjects[hi]
	for _, gi := range p.flat[s.start:s.end] {
		if p.grants[gi].holder == hi && p.grantKey(gi) == k {
			return gi
		}
	}
	return -1
}

// scanWith calls fn for every violation by principal si that involves grant
// gi, which reaches si.
func (p *Policy) scanWith(si, gi int32, fn func(si, ri, a, b int32, from, until int64)) {
	s := &p.subjects[si]
	gs := p.flat[s.start:s.end]
	g := &p.grants[gi]
	for _, ri := range p.sod.byRole[g.role] {
		r := &p.sod.rules[ri]
		for side := range 2 {
			if !p.holds(&r.sides[side], g.role) {
				continue
			}
			other := &r.sides[1-side]
			for _, x := range gs {
				ox := &p.grants[x]
				if !p.holds(other, ox.role) {
					continue
				}
				from, until, ok := p.overlap(g, ox)
				if !ok {
					continue
				}
				if side == 0 {
					fn(si, ri, gi, x, from, until)
				} else {
					fn(si, ri, x, gi, from, until)
				}
			}
		}
	}
}

// CheckReplace reports whether replacing model before with the compiled
// policy after as a whole (an import, or a store's Replace) lets someone
// hold both sides of a conflict rule in a way they did not before, by the
// rules of [CheckChange] at instant at. It returns nil or a
// [*ConflictError]. A before that no longer compiles grants no violation
// its standing: then every violation in after must be waived.
func CheckReplace(before Model, after *Policy, at time.Time) error {
	if after == nil || after.sod == nil || len(after.sod.rules) == 0 {
		return nil
	}
	return checkWhole(before, after, at)
}

// sodKey identifies a violation of one principal: the rule and the two
// grants through which the principal holds its sides.
type sodKey struct {
	rule int32 // index in the policy the violation is judged by
	a, b GrantKey
}

// sodSpan is the window [from, until) of a violation, in Unix ns.
type sodSpan struct{ from, until int64 }

// sodHolding is a grant through which a principal holds a role.
type sodHolding struct {
	gi          int32 // index in the policy's grants; -1 if read from a model
	key         GrantKey
	role        int32 // index in the policy's roles
	from, until int64
}

// holdingsOf returns the grants that reach principal si.
func (p *Policy) holdingsOf(si int32) []sodHolding {
	s := &p.subjects[si]
	out := make([]sodHolding, 0, s.end-s.start)
	for _, gi := range p.flat[s.start:s.end] {
		g := &p.grants[gi]
		out = append(out, sodHolding{gi: gi, key: p.grantKey(gi), role: g.role, from: g.from, until: g.until})
	}
	return out
}

// holdingsIn returns, for each principal of ps, the grants that reached it
// in model m, whose roles p also has. It reads m's memberships and grants
// once.
func (p *Policy) holdingsIn(m Model, ps []int32) map[Subject][]sodHolding {
	out := make(map[Subject][]sodHolding, len(ps))
	via := map[Subject][]Subject{} // holder -> the principals of ps it reaches
	for _, si := range ps {
		name := p.subjects[si].name
		out[name] = nil
		via[name] = append(via[name], name)
	}
	for _, ms := range m.Members {
		if _, ok := out[ms.Member]; ok && ms.Group != ms.Member {
			via[ms.Group] = append(via[ms.Group], ms.Member)
		}
	}
	for _, g := range m.Grants {
		to := via[g.Subject]
		if len(to) == 0 {
			continue
		}
		ri, ok := p.roleIdx[g.Role]
		from, until, err := window(g)
		if !ok || err != nil {
			continue // it never compiled: it held nothing
		}
		h := sodHolding{gi: -1, key: g.Key(), role: ri, from: from, until: until}
		to = slices.Clone(to)
		slices.Sort(to)
		for _, s := range slices.Compact(to) {
			out[s] = append(out[s], h)
		}
	}
	return out
}

// pairs calls fn for every pair of holdings (hs[a], hs[b]) through which
// one principal holds the first and the second side of a rule at the same
// time, at any scopes. rules, if not nil, limits the rules looked at.
func (p *Policy) pairs(hs []sodHolding, rules []int32, fn func(ri int32, a, b int, from, until int64)) {
	visit := func(ri int32) {
		r := &p.sod.rules[ri]
		for a := range hs {
			if !p.holds(&r.sides[0], hs[a].role) {
				continue
			}
			for b := range hs {
				if !p.holds(&r.sides[1], hs[b].role) {
					continue
				}
				if from, until := max(hs[a].from, hs[b].from), min(hs[a].until, hs[b].until); from < until {
					fn(ri, a, b, from, until)
				}
			}
		}
	}
	if rules != nil {
		for _, ri := range rules {
			visit(ri)
		}
		return
	}
	for ri := range p.sod.rules {
		visit(int32(ri))
	}
}

// sodCheck collects the violations of after that are new or larger than
// before.
type sodCheck struct {
	after *Policy
	at    time.Time
	found []Violation
}

// waived reports whether a waiver in force at the change's instant permits
// principal si's violations of rule ri.
func (k *sodCheck) waived(si, ri int32) bool {
	w, ok := k.after.sod.waivers[WaiverKey{Rule: k.after.sod.rules[ri].rule.ID, Subject: k.after.subjects[si].name}]
	if !ok {
		return false
	}
	if k.at.IsZero() {
		return w.NotBefore.IsZero() && w.NotAfter.IsZero()
	}
	return w.ActiveAt(k.at)
}

// compare records each violation of principal si through holdings hs that
// is not waived and not within prev, the violations before the change.
// rules, if not nil, limits the rules looked at, and fresh, if not nil,
// the pairs to those with a fresh holding. widened, if set, reports a
// grant scope that reaches further than before.
func (k *sodCheck) compare(si int32, hs []sodHolding, rules []int32, fresh []bool, prev map[sodKey]sodSpan, widened func(Scope) bool) {
	k.after.pairs(hs, rules, func(ri int32, i, j int, from, until int64) {
		a, b := &hs[i], &hs[j]
		if fresh != nil && !fresh[i] && !fresh[j] || k.waived(si, ri) {
			return // unchanged, or waived
		}
		if o, ok := prev[sodKey{rule: ri, a: a.key, b: b.key}]; ok && o.from <= from && until <= o.until &&
			(widened == nil || !widened(a.key.Scope) && !widened(b.key.Scope)) {
			return // no larger than before
		}
		k.found = append(k.found, k.after.violation(si, ri, a.gi, b.gi, from, until))
	})
}

// checkWhole compares every violation in after with those the same rules
// find in before.
func checkWhole(before Model, after *Policy, at time.Time) error {
	prev := beforeUnder(before, after)
	chk := sodCheck{after: after, at: at}
	var widened func(Scope) bool
	if prev != nil {
		memo := map[Scope]bool{}
		widened = func(s Scope) bool {
			w, ok := memo[s]
			if !ok {
				w = after.reachesBeyond(prev, s)
				memo[s] = w
			}
			return w
		}
	}
	for i := range after.subjects {
		si := int32(i)
		if !after.subjects[si].name.IsPrincipal() {
			continue
		}
		hs := after.holdingsOf(si)
		if len(hs) == 0 {
			continue
		}
		old := map[sodKey]sodSpan{}
		if prev != nil {
			if pi, ok := prev.subject(after.subjects[si].name); ok {
				phs := prev.holdingsOf(pi)
				prev.pairs(phs, nil, func(ri int32, a, b int, from, until int64) {
					old[sodKey{rule: after.sod.byID[prev.sod.rules[ri].rule.ID], a: phs[a].key, b: phs[b].key}] = sodSpan{from, until}
				})
			}
		}
		chk.compare(si, hs, nil, nil, old, widened)
	}
	return conflictError(chk.found)
}

// beforeUnder compiles before under the conflict rules of after, without
// waivers, or returns nil if it does not compile. Rules naming a role that
// before lacks are left out: every violation of them is new. The rules'
// permissions are declared, so that a permission the change introduced is
// judged, not refused.
func beforeUnder(before Model, after *Policy) *Policy {
	roles := make(map[RoleID]bool, len(before.Roles))
	for _, r := range before.Roles {
		roles[r.ID] = true
	}
	b := before
	b.Waivers = nil
	b.Conflicts = nil
	b.Permissions = slices.Clone(before.Permissions)
	for _, r := range after.Conflicts() {
		if r.IsRoleRule() {
			if !roles[r.Roles[0]] || !roles[r.Roles[1]] {
				continue
			}
		} else {
			b.Permissions = append(b.Permissions, r.Permissions[0], r.Permissions[1])
		}
		b.Conflicts = append(b.Conflicts, r)
	}
	prev, err := Compile(b)
	if err != nil || prev.sod == nil {
		return nil
	}
	return prev
}

// reachesBeyond reports whether a grant at scope s reaches, in p, a scope
// that a grant at s did not reach in prev.
func (p *Policy) reachesBeyond(prev *Policy, s Scope) bool {
	if s == OrgScope {
		return false // org reaches every scope in both
	}
	gs, ok1 := p.scope(s)
	ps, ok2 := prev.scope(s)
	if !ok1 || !ok2 {
		return true
	}
	for x := range p.scopes {
		if !p.covers(gs, int32(x)) {
			continue
		}
		px, ok := prev.scope(p.scopes[x].name)
		if !ok || !prev.covers(ps, px) {
			return true
		}
	}
	return false
}

func conflictError(found []Violation) error {
	if len(found) == 0 {
		return nil
	}
	sortViolations(found)
	v := found[0]
	return &ConflictError{Rule: v.Rule, Subject: v.Subject, First: v.First.Path, Second: v.Second.Path, Violations: found}
}
