package iam

import (
	"context"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/rbac"
)

// grantIndex is what a Scoper needs from one compiled policy: the scope
// tree as sets of record values, and the per (permission, role) plans
// computed on demand.
type grantIndex struct {
	snap     *snapshot // the Authorizer snapshot it was built for
	revision int64
	policy   *rbac.Policy
	refusal  error // the Scoper's rules were refused: every call fails with it

	// known holds, per kind, the ids of the scopes the policy knows: a
	// record whose field holds another value is not placed by it.
	known [numKinds]map[string]bool
	// beneath holds, for each known scope below org, the ids of the known
	// scopes beneath it (itself included), by kind.
	beneath map[Scope]*[numKinds][]any
	// places[k][c] lists, in the order of the policy's scopes, the known
	// scopes of kind c that tell which scope of kind k a record is in: c
	// is k, or the scope lies beneath a scope of kind k.
	places [numKinds][numKinds][]string

	// cache holds entries (what a subject's grants mean for a
	// permission); nil when caching is off ([WithSubjectCache]).
	cache *lruCache[evalKey, *evalEntry]
}

// rolePlan says which data rules restrict a grant of a role for one
// permission.
type rolePlan struct {
	// restricted: some data rule attached to the role, or to a role it
	// inherits, covers the permission. A restricted grant admits only the
	// records one of its live rules matches.
	restricted bool
	// live are the restricting rules whose role holds the permission in
	// this policy; a rule whose role does not restricts but admits
	// nothing.
	live []abac.Rule
	// usesID: a live rule names subject.id.
	usesID bool
}

// index returns the index for snapshot s, building it on the first call
// after a policy change, and checking the rules against the first policy
// the Scoper meets.
func (sc *Scoper) index(a *Authorizer, s *snapshot) *grantIndex {
	if x := sc.idx.Load(); x != nil && x.snap == s {
		return x
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if x := sc.idx.Load(); x != nil && x.snap == s {
		return x
	}
	if !sc.checked {
		sc.checked = true
		sc.refusal = sc.check(s.policy)
	}
	p := s.policy
	x := &grantIndex{
		snap:     s,
		revision: s.revision,
		policy:   p,
		refusal:  sc.refusal,
		beneath:  map[Scope]*[numKinds][]any{},
		cache:    newLRUCache[evalKey, *evalEntry](a.opts.cacheSize, hashEvalKey),
	}
	for k := range x.known {
		x.known[k] = map[string]bool{}
	}
	for _, s := range p.Scopes() {
		c := kindIndex(s.Kind())
		if c < 0 {
			continue
		}
		id := s.ID()
		x.known[c][id] = true
		lineage := p.ScopeLineage(s)
		for k := range x.places {
			if slices.ContainsFunc(lineage, func(anc Scope) bool { return kindIndex(anc.Kind()) == k }) {
				x.places[k][c] = append(x.places[k][c], id)
			}
		}
		for _, anc := range lineage {
			if kindIndex(anc.Kind()) < 0 {
				continue
			}
			b := x.beneath[anc]
			if b == nil {
				b = new([numKinds][]any)
				x.beneath[anc] = b
			}
			b[c] = append(b[c], id)
		}
	}
	sc.idx.Store(x)
	return x
}

// plan returns which of sc's rules restrict a grant of role for p. It is
// worked out when an entry is, and kept with it.
func (x *grantIndex) plan(sc *Scoper, p Permission, role RoleID) *rolePlan {
	rp := &rolePlan{}
	for _, r := range x.policy.RoleLineage(role) {
		for _, i := range sc.byRole[r] {
			dr := &sc.rules[i]
			if !dr.perm.Covers(p) {
				continue
			}
			rp.restricted = true
			if allows, _ := x.policy.RoleHolds(r, p); allows {
				rp.live = append(rp.live, dr.rule)
				rp.usesID = rp.usesID || slices.Contains(dr.rule.Attributes(), "id")
			}
		}
	}
	return rp
}

// within returns the filter of the records placed at or beneath scope g:
// every record for org; otherwise those with a field naming g or a known
// scope beneath it.
func (x *grantIndex) within(sc *Scoper, g Scope) abac.Filter {
	if g == rbac.OrgScope {
		return abac.All()
	}
	b := x.beneath[g]
	if b == nil {
		return abac.None()
	}
	var alts []abac.Conj
	for c, ids := range b {
		if sc.fields[c] != "" && len(ids) > 0 {
			alts = append(alts, abac.Conj{abac.In(sc.fields[c], ids...)})
		}
	}
	return abac.FromConj(alts...)
}

// allowGrant is a grant in force that allows the permission and does not
// deny it.
type allowGrant struct {
	rbac.Bearing
	plan   *rolePlan
	within abac.Filter // the records of its scope
}

// evalEntry is what a subject's grants mean for one permission during a
// stretch of time in which none of them starts or ends. It is cached per
// index and never modified once cached.
type evalEntry struct {
	inForce rbac.InForce
	allow   []allowGrant   // grants that allow the permission
	deny    []rbac.Bearing // grants that deny it
	// open is what the allowing grants without data rules admit, and
	// openEmergency the part of it that emergency grants admit.
	open, openEmergency abac.Filter
	// survive is the records no deny removes.
	survive abac.Filter
	// needAttrs: some allowing grant has live data rules to bind; needID:
	// one of them names subject.id, which is then id (read-only).
	needAttrs, needID bool
	id                []any
	// When !needAttrs: the composed filter, and whether an emergency grant
	// admits part of it.
	filter    abac.Filter
	emergency bool
}

type evalKey struct {
	sub  Subject
	perm Permission
}

func hashEvalKey(seed maphash.Seed, k evalKey) uint64 {
	return maphash.String(seed, string(k.sub))*31 ^ maphash.String(seed, string(k.perm))
}

// entry returns what sub's grants in force now mean for p, from the cache
// when it is still true.
func (a *Authorizer) entry(op string, sub Subject, p Permission, sc *Scoper) (*evalEntry, *grantIndex, error) {
	if sc == nil {
		return nil, nil, fmt.Errorf("iam: %s: %w", op, &rbac.InvalidError{Kind: "scoper", Value: "nil", Reason: "create one with NewScoper"})
	}
	s, at, err := a.loadAt()
	if err != nil {
		return nil, nil, err
	}
	if err := sub.Validate(); err != nil {
		return nil, nil, fmt.Errorf("iam: %s: %w", op, err)
	}
	if err := p.Validate(); err != nil {
		return nil, nil, fmt.Errorf("iam: %s: %w", op, err)
	}
	x := sc.index(a, s)
	if x.refusal != nil {
		return nil, nil, fmt.Errorf("iam: %s: %w", op, x.refusal)
	}
	key := evalKey{sub, p}
	if e, ok := x.cache.Get(key); ok && e.inForce.ValidAt(at) {
		return e, x, nil
	}
	e, err := x.evaluate(sc, sub, p, at)
	if err != nil {
		return nil, nil, fmt.Errorf("iam: %s: %w", op, err)
	}
	x.cache.Add(key, e)
	return e, x, nil
}

// evaluate computes the entry of sub and p at at.
func (x *grantIndex) evaluate(sc *Scoper, sub Subject, p Permission, at time.Time) (*evalEntry, error) {
	f, err := x.policy.GrantsInForce(sub, p, at)
	if err != nil {
		return nil, err
	}
	e := &evalEntry{inForce: f}
	var open, openEm []abac.Filter
	for _, b := range f.Grants {
		if b.Denies {
			e.deny = append(e.deny, b)
			continue
		}
		g := allowGrant{Bearing: b, plan: x.plan(sc, p, b.Grant.Role), within: x.within(sc, b.Grant.Scope)}
		e.allow = append(e.allow, g)
		if g.plan.restricted {
			e.needAttrs = e.needAttrs || len(g.plan.live) > 0
			e.needID = e.needID || g.plan.usesID
			continue
		}
		open = append(open, g.within)
		if b.Emergency {
			openEm = append(openEm, g.within)
		}
	}
	e.open, e.openEmergency = abac.Or(open...).Distinct(), abac.Or(openEm...).Distinct()
	if e.needID {
		e.id = []any{string(sub)}
	}
	e.survive = x.survivors(sc, e.deny)
	if !e.needAttrs {
		e.filter, e.emergency = e.compose(nil)
	}
	return e, nil
}

// sorted returns the ids of set in the order of the policy's scopes, so
// that filters are deterministic.
func (x *grantIndex) sorted(c int, set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for _, s := range x.policy.Scopes() {
		if kindIndex(s.Kind()) == c && set[s.ID()] {
			out = append(out, s.ID())
		}
	}
	return out
}

// survivors returns the filter of the records that no grant in deny
// removes. A deny at a scope d of kind k removes the records that some
// field places at or beneath d (a facility declared beneath a denied
// department, whatever the department field holds), and every record that
// cannot be shown to lie outside d: one whose scope of kind k is unknown
// because its field for k is NULL, not text or names a scope the policy
// does not know, and no other field places it beneath a known scope of
// kind k. A deny never turns into "or NULL" for the field of its own kind.
// When the records have no field for k ([NoColumn]), they are at no scope
// of kind k but those their other fields place them beneath, so the deny
// removes only those.
func (x *grantIndex) survivors(sc *Scoper, deny []rbac.Bearing) abac.Filter {
	if len(deny) == 0 {
		return abac.All()
	}
	var excluded [numKinds]map[string]bool
	var kinds []int // the kinds of the denied scopes, in order
	var order []int // the fields in the order the denies first name them
	for _, d := range deny {
		if d.Grant.Scope == rbac.OrgScope {
			return abac.None() // a deny at org removes everything
		}
		for c, ids := range x.beneath[d.Grant.Scope] {
			for _, id := range ids {
				if excluded[c] == nil {
					excluded[c] = map[string]bool{}
				}
				excluded[c][id.(string)] = true
			}
		}
		// The denied scope's own field first, then those of the scopes
		// beneath it.
		own := kindIndex(d.Grant.Scope.Kind())
		if own < 0 {
			return abac.None() // not a scope kind records can be placed in: fail closed
		}
		if !slices.Contains(kinds, own) {
			kinds = append(kinds, own)
		}
		for _, c := range append([]int{own}, kindDept, kindWard, kindFacility) {
			if excluded[c] != nil && !slices.Contains(order, c) {
				order = append(order, c)
			}
		}
	}
	f := abac.All()
	// Placed outside every denied scope of each kind k: some field names a
	// known scope that tells the record's scope of kind k, and that scope
	// is not denied (a denied one is removed below).
	for _, k := range kinds {
		if sc.fields[k] == "" {
			continue
		}
		var alts []abac.Conj
		for c, field := range sc.fields {
			if field == "" {
				continue
			}
			var vals []any
			for _, id := range x.places[k][c] {
				if !excluded[c][id] {
					vals = append(vals, id)
				}
			}
			if len(vals) > 0 {
				alts = append(alts, abac.Conj{abac.In(field, vals...)})
			}
		}
		f = f.And(abac.FromConj(alts...)).Simplify()
		if f.MatchesNone() {
			return f
		}
	}
	for _, c := range order {
		if sc.fields[c] == "" {
			continue
		}
		ids := x.sorted(c, excluded[c])
		vals := make([]any, len(ids))
		for i, id := range ids {
			vals[i] = id
		}
		// Not placed in a denied scope by this field: another value, or
		// none (the record is then placed by the conditions above).
		out := abac.Cond{Field: sc.fields[c], Op: abac.OpNotIn, Values: vals}
		f = f.And(abac.FromConj(abac.Conj{out}, abac.Conj{{Field: sc.fields[c], Op: abac.OpIsNull}})).Simplify()
	}
	return f
}

// compose returns the filter of e, given the data rules of its restricted
// grants bound to the subject (bound[i] for e.allow[i]; nil when no grant
// has live rules), and whether an emergency grant admits part of it.
func (e *evalEntry) compose(bound [][]abac.Conj) (abac.Filter, bool) {
	var partsBuf, emBuf [8]abac.Filter
	parts := append(partsBuf[:0], e.open)
	em := append(emBuf[:0], e.openEmergency)
	for i, g := range e.allow {
		if !g.plan.restricted || bound == nil || len(bound[i]) == 0 {
			continue
		}
		// Bound rules are never empty conjunctions.
		part := g.within.And(abac.Filter{Any: bound[i]})
		parts = append(parts, part)
		if g.Emergency {
			em = append(em, part)
		}
	}
	f := e.restrict(abac.Or(parts...))
	emergency := false
	if len(em) > 1 || !e.openEmergency.MatchesNone() {
		emergency = !f.MatchesNone() && !e.restrict(abac.Or(em...)).MatchesNone()
	}
	return f, emergency
}

// restrict returns what f admits less what the denies remove, simplified
// when there was something to remove.
func (e *evalEntry) restrict(f abac.Filter) abac.Filter {
	if e.survive.MatchesAll() {
		return f
	}
	return f.And(e.survive).Simplify()
}

// bind binds the live data rules of e's restricted grants to sub's
// attributes.
func (sc *Scoper) bind(ctx context.Context, sub Subject, e *evalEntry, buf [][]abac.Conj) ([][]abac.Conj, error) {
	if !e.needAttrs {
		return nil, nil
	}
	attrs, err := sc.attributes(ctx, sub, e.id)
	if err != nil {
		return nil, fmt.Errorf("attributes of %s: %w", sub, err)
	}
	bound := buf[:0]
	for range e.allow {
		bound = append(bound, nil)
	}
	for i, g := range e.allow {
		for _, r := range g.plan.live {
			if c, ok := r.Bind(attrs); ok {
				bound[i] = append(bound[i], c)
			}
		}
	}
	return bound, nil
}

// attributes returns sub's attributes from the source with subject.id set
// to id, the whole subject, kind and id, so that the service account
// svc:alice is never taken for the user user:alice. With id nil (no rule
// names subject.id) the source's map is returned as it is.
func (sc *Scoper) attributes(ctx context.Context, sub Subject, id []any) (abac.Attributes, error) {
	var attrs abac.Attributes
	if sc.attrs != nil {
		var err error
		if attrs, err = sc.attrs.Attributes(ctx, sub); err != nil {
			return nil, err
		}
	}
	if id == nil {
		return attrs, nil
	}
	out := make(abac.Attributes, len(attrs)+1)
	maps.Copy(out, attrs)
	out["id"] = id
	return out, nil
}

// Filter returns the records sub may use perm on now, as an [abac.Filter]
// that matches records in memory and renders to parameterised SQL (directly,
// or through adapters/gormscope):
//
//	f, err := authz.Filter(ctx, sub, "social.case.read", scoper)
//	if err != nil {
//		return err // f is None: nothing is shown
//	}
//	err = db.Scopes(gormscope.Scope(f, caseColumns)).Find(&cases).Error
//
// A record is admitted exactly when [Authorizer.Check] would allow perm at
// the scopes the record is in, read from the compiled policy:
//
//   - A record is in the scopes its scope fields name ([ScopeFields]: the
//     department, ward and facility fields) that the policy knows, in every
//     scope above those in the declared scope tree, and in org. A field that
//     is NULL, not text, or names a scope the policy does not know places
//     the record nowhere.
//   - A grant in force whose role allows perm (and does not deny it) admits
//     the records in its scope: every record for org; for dept:social, the
//     records whose department is social and those whose facility or ward
//     is a scope declared beneath dept:social. A record no field places is
//     outside every grant but org.
//   - If data rules restrict the grant (rules attached to its role or to a
//     role it inherits, whose permission covers perm), it admits only the
//     records of its scope that one of them matches, bound to sub's
//     attributes and subject.id (the whole subject, "user:alice"). A rule
//     that does not bind (a missing attribute), or whose role no longer
//     holds perm, admits nothing: it never widens.
//   - A grant whose role denies perm removes the records in its scope,
//     through any field: a deny at dept:social removes the records whose
//     facility is declared beneath dept:social even when their department
//     field is NULL, so a NULL field never lets a record slip past a deny
//     that the tree places it under. A deny at org leaves nothing.
//   - A record that cannot be placed is denied by every deny of that kind:
//     a deny at ward:7 removes every record whose ward field is NULL, not
//     text or names a ward the policy does not know, unless another field
//     places it beneath a known ward (a facility declared under ward:3). A
//     deny never turns into "or NULL". A scope field holding neither text
//     nor NULL also cannot be shown to lie outside a denied scope beneath
//     which scopes of its kind are declared, and is removed. For a kind
//     declared [NoColumn] the records are at no scope of that kind, so a
//     deny there removes only the records placed beneath it.
//   - Grants admit the union of what each admits, less what the denies
//     remove; windows are honoured as in Check.
//
// A subject with no grant gets [abac.None]. On error Filter returns None:
// malformed input wraps [ErrInvalidInput] (so does a Scoper whose rules the
// policy refused, see [Scoper]), an [AttributeSource] error is returned
// wrapped, and a closed Authorizer returns [ErrClosed].
//
// A filter that an emergency grant makes wider is recorded as an
// [EventEmergency] event with the filter in its Detail.
//
// What a subject's grants mean for a permission is cached per policy
// snapshot (sized with [WithSubjectCache]) until one of
// its grants starts or ends. The returned Filter may then be shared with
// other calls: treat it as read-only, as package abac asks of every Filter.
// Filters with data rules are bound to attributes read on every call.
func (a *Authorizer) Filter(ctx context.Context, sub Subject, perm Permission, sc *Scoper) (abac.Filter, error) {
	e, x, err := a.entry("filter", sub, perm, sc)
	if err != nil {
		return abac.None(), err
	}
	f, emergency := e.filter, e.emergency
	if e.needAttrs {
		var buf [8][]abac.Conj
		bound, err := sc.bind(ctx, sub, e, buf[:])
		if err != nil {
			return abac.None(), fmt.Errorf("iam: filter: %w", err)
		}
		f, emergency = e.compose(bound)
	}
	if emergency {
		a.recordEmergency(ctx, x.snap, emergencyUse{kind: "filter", sub: sub, perm: perm, grant: -1, at: a.opts.clock(),
			decision: Decision{Allowed: !f.MatchesNone(), Reason: "filter", Revision: x.revision}, detail: map[string]string{"filter": f.String()}})
	}
	return f, nil
}

// CheckRecord decides whether sub may use perm on one record now, with the
// same meaning as [Authorizer.Filter]: the answer is always what the Filter
// for sub and perm gives for rec with [abac.Filter.Match], with a reason.
//
// CheckRecord places the record and walks the grants; it does not build a
// Filter. Use it for one record already loaded (an API that fetches by id),
// and Filter for queries. Like [Authorizer.Check] it returns a Decision
// whose zero value denies; on error the Decision denies. A decision made
// where an emergency grant covers the record is recorded as an
// [EventEmergency] event.
func (a *Authorizer) CheckRecord(ctx context.Context, sub Subject, perm Permission, sc *Scoper, rec abac.Record) (Decision, error) {
	if o := a.opts.observer; o != nil {
		start := time.Now()
		d, err := a.checkRecord(ctx, sub, perm, sc, rec)
		o.Decision(ctx, perm, d, err, time.Since(start))
		return d, err
	}
	return a.checkRecord(ctx, sub, perm, sc, rec)
}

func (a *Authorizer) checkRecord(ctx context.Context, sub Subject, perm Permission, sc *Scoper, rec abac.Record) (Decision, error) {
	e, x, err := a.entry("check record", sub, perm, sc)
	if err != nil {
		return Decision{Reason: "no decision"}, err
	}
	d, emergency, err := sc.decide(ctx, sub, e, x, rec)
	if err != nil {
		return Decision{Reason: "no decision", Revision: x.revision}, fmt.Errorf("iam: check record: %w", err)
	}
	if emergency {
		a.recordEmergency(ctx, x.snap, emergencyUse{kind: "record", sub: sub, perm: perm, decision: d, grant: -1, at: a.opts.clock()})
	}
	return d, nil
}

// place returns the scopes rec is in, as read from its scope fields, with
// every scope above them (org included).
func (x *grantIndex) place(sc *Scoper, rec abac.Record) map[Scope]bool {
	in := map[Scope]bool{rbac.OrgScope: true}
	prefix := [numKinds]string{kindDept: "dept:", kindWard: "ward:", kindFacility: "facility:"}
	for c, field := range sc.fields {
		if field == "" {
			continue
		}
		v, ok := abac.Text(rec, field)
		if !ok || !x.known[c][v] {
			continue
		}
		for _, s := range x.policy.ScopeLineage(Scope(prefix[c] + v)) {
			in[s] = true
		}
	}
	return in
}

// decide decides rec against the grants of e, and reports whether an
// emergency grant covers it.
func (sc *Scoper) decide(ctx context.Context, sub Subject, e *evalEntry, x *grantIndex, rec abac.Record) (Decision, bool, error) {
	var buf [8][]abac.Conj
	bound, err := sc.bind(ctx, sub, e, buf[:])
	if err != nil {
		return Decision{}, false, err
	}
	if rec == nil {
		rec = abac.Map(nil) // a record with no fields
	}
	in := x.place(sc, rec)
	emergency := false
	for _, b := range e.deny {
		emergency = emergency || b.Emergency && in[b.Grant.Scope]
	}
	for _, g := range e.allow {
		emergency = emergency || g.Emergency && in[g.Grant.Scope]
	}
	deny := func(reason string) (Decision, bool, error) {
		return Decision{Reason: reason, Revision: x.revision}, emergency, nil
	}
	for _, b := range e.deny {
		if in[b.Grant.Scope] {
			return deny("denied by role " + string(b.Grant.Role) + " at " + string(b.Grant.Scope))
		}
	}
	if !e.survive.Match(rec) {
		return deny("denied: the record's scope fields do not place it outside the scopes a deny covers")
	}
	for i, g := range e.allow {
		if !in[g.Grant.Scope] {
			continue
		}
		at := "allowed by role " + string(g.Grant.Role) + " at " + string(g.Grant.Scope)
		if !g.plan.restricted {
			return Decision{Allowed: true, Reason: at, Revision: x.revision}, emergency, nil
		}
		if bound == nil {
			continue
		}
		for j, c := range bound[i] {
			if c.Match(rec) {
				return Decision{Allowed: true, Reason: at + " under data rule " + strconv.Itoa(j+1), Revision: x.revision}, emergency, nil
			}
		}
	}
	return deny("no grant in force admits the record")
}
