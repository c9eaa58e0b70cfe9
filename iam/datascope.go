package iam

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/internal/perm"
	"github.com/civic-platform/security/rbac"
)

// A DataRule narrows what a role's grants show for a permission to the
// records that satisfy an [abac] rule, such as
//
//	DataRule{Role: "caseworker", Permission: "social.case.read", Rule: "owner = subject.id"}
//
// Data rules are configuration that a city loads from files, like masking
// rules; they are not policy rows and do not change with [Authorizer.Apply].
type DataRule struct {
	// Role is the role the rule is attached to. It applies to grants of
	// this role and of every role that inherits it.
	Role RoleID
	// Permission is the permission the rule narrows: exact
	// ("social.case.read") or a wildcard ("social.*").
	Permission Permission
	// Rule is the rule text, parsed by [abac.ParseRule]. It may name the
	// subject's attributes ("subject.ward") and always may use subject.id.
	Rule string
}

// AttributeSource gives a subject's attributes for binding data rules
// (subject.ward, subject.departments, ...). Attributes is called on the
// request path, concurrently, once per [Authorizer.Filter] or
// [Authorizer.CheckRecord] call that needs attributes; cache in the source if
// lookups are slow. It must not modify a map it has returned.
//
// A subject without some attribute gets a nil or partial map: a rule naming a
// missing attribute then admits nothing for that subject. An error makes the
// call fail closed.
type AttributeSource interface {
	Attributes(ctx context.Context, sub Subject) (abac.Attributes, error)
}

// AttributesFunc adapts an ordinary function to an [AttributeSource].
type AttributesFunc func(ctx context.Context, sub Subject) (abac.Attributes, error)

// Attributes calls f(ctx, sub).
func (f AttributesFunc) Attributes(ctx context.Context, sub Subject) (abac.Attributes, error) {
	return f(ctx, sub)
}

// ScopeFields names the logical record fields that hold a record's scope:
// a grant at dept:roads admits records whose Dept field is "roads". The zero
// ScopeFields means the defaults, and so does each empty field.
//
// Scope ids are strings, so these fields must be text in the database (text,
// varchar, or an enum compared as text): a ward kept in an integer column
// needs a text column or view for data scoping, or a data rule on the integer
// column instead of a ward grant.
type ScopeFields struct {
	Dept     string // default "department"
	Ward     string // default "ward"
	Facility string // default "facility"
}

// Default names of the scope fields.
const (
	DefaultDeptField     = "department"
	DefaultWardField     = "ward"
	DefaultFacilityField = "facility"
)

// DataScopes is the data-scope configuration given to [NewScoper]. The zero
// DataScopes is valid: no rules, no attributes beyond subject.id, default
// scope fields; grants then restrict records by scope alone.
type DataScopes struct {
	Rules []DataRule
	// Attributes gives subjects' attributes. nil means none but subject.id.
	Attributes AttributeSource
	Fields     ScopeFields
}

// DataRuleError reports a data rule that [NewScoper] refused: a malformed
// role or permission, or rule text that does not parse. errors.Is(err,
// ErrInvalidInput) reports true for it, and the underlying error (such as an
// *abac.ParseError, for which errors.Is(err, abac.ErrInvalidRule) holds) is
// unwrapped.
type DataRuleError struct {
	Index      int // position in DataScopes.Rules
	Role       RoleID
	Permission Permission
	Err        error
}

// Error implements the error interface.
func (e *DataRuleError) Error() string {
	return fmt.Sprintf("iam: data rule %d (role %s, permission %s): %v",
		e.Index, perm.Quote(string(e.Role)), perm.Quote(string(e.Permission)), e.Err)
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *DataRuleError) Is(target error) bool { return target == ErrInvalidInput }

// Unwrap returns the underlying error.
func (e *DataRuleError) Unwrap() error { return e.Err }

// A Scoper holds parsed, validated data-scope configuration. Create it once
// with [NewScoper] and pass it to [Authorizer.Filter] and
// [Authorizer.CheckRecord].
//
// Data rules are configuration rather than policy rows, so they live here and
// not in the store, and a Scoper is a value the caller passes rather than an
// option of [New]: one Authorizer can serve several Scopers (one per kind of
// record, with its own scope fields), and reloading rule files means building
// a new Scoper, with no change to the Authorizer.
//
// A Scoper is safe for concurrent use. It keeps an index of the policy's
// grants, rebuilt once after each policy change of the Authorizer it is used
// with, by reading the policy source (rbac.Policy does not expose grants per
// subject); use one Scoper per Authorizer, since alternating between two
// Authorizers rebuilds the index each time.
type Scoper struct {
	byRole    map[RoleID][]dataRule
	fields    [3]string // by scopeKindIndex
	allFields []string
	attrs     AttributeSource

	mu  sync.Mutex // serializes index builds
	idx atomic.Pointer[grantIndex]
}

type dataRule struct {
	perm   Permission
	rule   abac.Rule
	usesID bool // the rule may name subject.id (a literal holding the text also counts)
}

// NewScoper parses and validates every rule and scope field in cfg up front,
// so that a bad configuration fails at start-up rather than on a request.
// Errors wrap [ErrInvalidInput]: a [*DataRuleError] for a rule, an
// [*rbac.InvalidError] for a scope field.
func NewScoper(cfg DataScopes) (*Scoper, error) {
	sc := &Scoper{byRole: map[RoleID][]dataRule{}, attrs: cfg.Attributes}
	for i, f := range [3]struct{ name, def string }{
		{cfg.Fields.Dept, DefaultDeptField},
		{cfg.Fields.Ward, DefaultWardField},
		{cfg.Fields.Facility, DefaultFacilityField},
	} {
		name := f.name
		if name == "" {
			name = f.def
		}
		// A field name is whatever the rule grammar accepts as one.
		if _, err := abac.ParseRule(name + " is null"); err != nil {
			return nil, fmt.Errorf("iam: data scopes: %w", &rbac.InvalidError{Kind: "scope field", Value: perm.Quote(name), Reason: "not a valid field name"})
		}
		sc.fields[i] = name
	}
	var errs []error
	for i, r := range cfg.Rules {
		fail := func(err error) {
			errs = append(errs, &DataRuleError{Index: i, Role: r.Role, Permission: r.Permission, Err: err})
		}
		if err := r.Role.Validate(); err != nil {
			fail(err)
			continue
		}
		if err := r.Permission.ValidatePattern(); err != nil {
			fail(err)
			continue
		}
		rule, err := abac.ParseRule(r.Rule)
		if err != nil {
			fail(err)
			continue
		}
		sc.byRole[r.Role] = append(sc.byRole[r.Role], dataRule{perm: r.Permission, rule: rule, usesID: strings.Contains(rule.String(), "subject.id")})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	seen := map[string]bool{}
	for _, f := range sc.fields {
		if !seen[f] {
			seen[f] = true
			sc.allFields = append(sc.allFields, f)
		}
	}
	for _, r := range cfg.Rules {
		rule, _ := abac.ParseRule(r.Rule)
		for _, f := range rule.Fields() {
			if !seen[f] {
				seen[f] = true
				sc.allFields = append(sc.allFields, f)
			}
		}
	}
	slices.Sort(sc.allFields)
	return sc, nil
}

// Fields returns every record field a filter from this Scoper may name: the
// scope fields and the fields the rules read, sorted. Check at start-up that
// the column allow-list given to [abac.Filter.SQL] or gormscope.Scope maps
// each of them; a field without a column makes the query fail, never wider.
func (sc *Scoper) Fields() []string { return slices.Clone(sc.allFields) }

// field returns the record field for a scope kind, "" for org.
func (sc *Scoper) field(k rbac.ScopeKind) string {
	switch k {
	case rbac.Dept:
		return sc.fields[0]
	case rbac.Ward:
		return sc.fields[1]
	case rbac.Facility:
		return sc.fields[2]
	}
	return ""
}

// grantIndex is what a Scoper needs from one policy revision: each
// subject's grants and memberships and each role's inheritance closure,
// plus the per (permission, role) plans computed from them on demand.
type grantIndex struct {
	snap     *snapshot // the Authorizer snapshot it was built for
	revision int64     // the revision of the model it was built from

	direct  map[Subject][]indexedGrant
	groups  map[Subject][]Subject
	scopes  map[Scope]*scopeConds
	roles   map[RoleID]*Role
	closure map[RoleID][]RoleID // the role first, then every role it inherits

	plans  sync.Map // planKey -> *rolePlan
	nplans atomic.Int64
	cache  *evalCache // nil when the Authorizer's subject cache is off
}

// maxPlans bounds the plan cache of one index; past it plans are computed
// per call. Permissions come from code, so real services stay far below.
const maxPlans = 1 << 14

// indexedGrant is a grant with its scope's conditions.
type indexedGrant struct {
	Grant
	sc *scopeConds
}

// scopeConds are the conditions that select the records of one scope, built
// once per index so that requests share them. They are never modified.
type scopeConds struct {
	scope Scope
	org   bool
	field string
	id    string
	eq    abac.Cond // field = id
	ne    abac.Cond // field != id
	null  abac.Cond // field is null
}

func (sc *Scoper) conds(s Scope) *scopeConds {
	k := s.Kind()
	if k == rbac.Org {
		return &scopeConds{scope: s, org: true}
	}
	f, id := sc.field(k), s.ID()
	return &scopeConds{
		scope: s, field: f, id: id,
		eq:   abac.Cond{Field: f, Op: abac.OpEq, Values: []any{id}},
		ne:   abac.Cond{Field: f, Op: abac.OpNe, Values: []any{id}},
		null: abac.Cond{Field: f, Op: abac.OpIsNull},
	}
}

type planKey struct {
	perm Permission
	role RoleID
}

// rolePlan says what a grant of a role means for one permission.
type rolePlan struct {
	allow bool        // an allow rule of the role or a role it inherits covers the permission
	deny  bool        // a deny rule does
	rules []abac.Rule // the data rules that narrow the permission
	id    bool        // some rule may name subject.id
}

// index returns the grant index for snapshot s, building it on the first
// call after a policy change.
//
// The index is built from the model the snapshot was compiled from, so it
// describes exactly the policy the checks on s use.
func (sc *Scoper) index(ctx context.Context, a *Authorizer, s *snapshot) (*grantIndex, error) {
	if x := sc.idx.Load(); x != nil && x.snap == s {
		return x, nil
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if x := sc.idx.Load(); x != nil && x.snap == s {
		return x, nil
	}
	m, rev := s.model, s.revision
	x := &grantIndex{
		snap:     s,
		revision: rev,
		direct:   map[Subject][]indexedGrant{},
		groups:   map[Subject][]Subject{},
		scopes:   map[Scope]*scopeConds{},
		roles:    make(map[RoleID]*Role, len(m.Roles)),
		closure:  make(map[RoleID][]RoleID, len(m.Roles)),
		cache:    newEvalCache(a.opts.cacheSize),
	}
	for _, g := range m.Grants {
		c := x.scopes[g.Scope]
		if c == nil {
			c = sc.conds(g.Scope)
			x.scopes[g.Scope] = c
		}
		x.direct[g.Subject] = append(x.direct[g.Subject], indexedGrant{Grant: g, sc: c})
	}
	for _, mb := range m.Members {
		x.groups[mb.Member] = append(x.groups[mb.Member], mb.Group)
	}
	for i := range m.Roles {
		x.roles[m.Roles[i].ID] = &m.Roles[i]
	}
	for id := range x.roles {
		seen := map[RoleID]bool{id: true}
		order := []RoleID{id}
		for i := 0; i < len(order); i++ {
			if r := x.roles[order[i]]; r != nil {
				for _, p := range r.Inherits {
					if !seen[p] {
						seen[p] = true
						order = append(order, p)
					}
				}
			}
		}
		x.closure[id] = order
	}
	sc.idx.Store(x)
	return x, nil
}

// plan returns what a grant of role means for perm.
func (x *grantIndex) plan(sc *Scoper, p Permission, role RoleID) *rolePlan {
	key := planKey{p, role}
	if v, ok := x.plans.Load(key); ok {
		return v.(*rolePlan)
	}
	rp := &rolePlan{}
	rp.allow, rp.deny = x.holds(p, role)
	if rp.allow && !rp.deny {
		for _, r := range x.closure[role] {
			rules := sc.byRole[r]
			if len(rules) == 0 {
				continue
			}
			// A rule applies only through a role that itself contributes
			// the permission.
			if allow, _ := x.holds(p, r); !allow {
				continue
			}
			for _, dr := range rules {
				if dr.perm.Covers(p) {
					rp.rules = append(rp.rules, dr.rule)
					rp.id = rp.id || dr.usesID
				}
			}
		}
	}
	if x.nplans.Add(1) <= maxPlans {
		x.plans.Store(key, rp)
	}
	return rp
}

// holds reports whether role, with everything it inherits, has an allow
// rule and a deny rule covering p: rbac's semantics, where a wildcard rule
// covers every permission under its prefix.
func (x *grantIndex) holds(p Permission, role RoleID) (allow, deny bool) {
	for _, id := range x.closure[role] {
		r := x.roles[id]
		if r == nil {
			continue
		}
		for _, rule := range r.Permissions {
			allow = allow || rule.Covers(p)
		}
		for _, rule := range r.Deny {
			deny = deny || rule.Covers(p)
		}
	}
	return allow, deny
}

// activeGrant is one grant in force, as a data scope sees it.
type activeGrant struct {
	role  RoleID
	sc    *scopeConds
	plan  *rolePlan
	bound []abac.Conj // the plan's rules bound to the subject; nil if it has none
}

// evalEntry is what a subject's grants mean for one permission during a
// stretch of time [from, until) (Unix ns) in which none of them starts or
// ends. It is cached per index and never modified once cached.
type evalEntry struct {
	from, until int64
	allow       []activeGrant // grants that allow the permission, unbound
	deny        []activeGrant // grants that deny it
	needAttrs   bool          // some allowing grant has data rules
	needID      bool          // and one of them may name subject.id
	emergency   bool          // a grant of an emergency role bears on the permission
	filter      abac.Filter   // the composed filter, when !needAttrs
	id          []any         // subject.id, when needAttrs; read-only
}

func (e *evalEntry) validAt(t int64) bool { return t >= e.from && t < e.until }

type evalKey struct {
	sub  Subject
	perm Permission
}

// evalCache is a set of golang-lru caches sharded by key, so that
// concurrent filters for different keys rarely meet on one lock
// (lru.Cache.Get takes a write lock to update recency).
type evalCache struct {
	seed   maphash.Seed
	shards [cacheShards]*lru.Cache[evalKey, *evalEntry]
}

const cacheShards = 32

func newEvalCache(size int) *evalCache {
	if size <= 0 {
		return nil
	}
	per := max(1, (size+cacheShards-1)/cacheShards)
	c := &evalCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i], _ = lru.New[evalKey, *evalEntry](per) // per > 0: cannot fail
	}
	return c
}

func (c *evalCache) shard(k evalKey) *lru.Cache[evalKey, *evalEntry] {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(string(k.sub))
	h.WriteByte(0)
	h.WriteString(string(k.perm))
	return c.shards[h.Sum64()%cacheShards]
}

// entry returns what sub's grants in force now mean for p, from the cache
// when it is still true.
func (a *Authorizer) entry(ctx context.Context, op string, sub Subject, p Permission, sc *Scoper) (*evalEntry, *grantIndex, error) {
	if sc == nil {
		return nil, nil, fmt.Errorf("iam: %s: %w", op, &rbac.InvalidError{Kind: "scoper", Value: "nil", Reason: "create one with NewScoper"})
	}
	s, err := a.load()
	if err != nil {
		return nil, nil, err
	}
	if err := sub.Validate(); err != nil {
		return nil, nil, fmt.Errorf("iam: %s: %w", op, err)
	}
	if err := p.Validate(); err != nil {
		return nil, nil, fmt.Errorf("iam: %s: %w", op, err)
	}
	x, err := sc.index(ctx, a, s)
	if err != nil {
		return nil, nil, fmt.Errorf("iam: %s: %w", op, err)
	}
	now := a.opts.clock()
	at := rbac.Nanos(now)
	key := evalKey{sub, p}
	if x.cache != nil {
		if e, ok := x.cache.shard(key).Get(key); ok && e.validAt(at) {
			return e, x, nil
		}
	}
	e := x.evaluate(sc, sub, p, now, at)
	if x.cache != nil {
		x.cache.shard(key).Add(key, e)
	}
	return e, x, nil
}

// evaluate computes the entry of sub and p at now (at in Unix ns).
func (x *grantIndex) evaluate(sc *Scoper, sub Subject, p Permission, now time.Time, at int64) *evalEntry {
	e := &evalEntry{from: math.MinInt64, until: math.MaxInt64}
	var all []activeGrant
	collect := func(gs []indexedGrant) {
		for i := range gs {
			g := &gs[i]
			for _, edge := range [2]time.Time{g.NotBefore, g.NotAfter} {
				if edge.IsZero() {
					continue
				}
				if t := rbac.Nanos(edge); t <= at {
					e.from = max(e.from, t)
				} else {
					e.until = min(e.until, t)
				}
			}
			if !g.ActiveAt(now) {
				continue
			}
			if !slices.ContainsFunc(all, func(h activeGrant) bool { return h.role == g.Role && h.sc == g.sc }) {
				all = append(all, activeGrant{role: g.Role, sc: g.sc})
			}
		}
	}
	collect(x.direct[sub])
	for _, grp := range x.groups[sub] {
		collect(x.direct[grp])
	}
	for _, g := range all {
		g.plan = x.plan(sc, p, g.role)
		switch {
		case g.plan.deny:
			e.deny = append(e.deny, g)
		case g.plan.allow:
			e.allow = append(e.allow, g)
			e.needAttrs = e.needAttrs || len(g.plan.rules) > 0
			e.needID = e.needID || g.plan.id
		default:
			continue
		}
		if r := x.roles[g.role]; r != nil && r.Emergency {
			e.emergency = true
		}
	}
	e.allow, e.deny = slices.Clip(e.allow), slices.Clip(e.deny)
	if e.needAttrs {
		e.id = []any{subjectID(sub)}
	} else {
		e.filter = compose(e.allow, e.deny)
	}
	return e
}

// bind returns the allowing grants of e with their data rules bound to
// sub's attributes, using buf for storage.
func (sc *Scoper) bind(ctx context.Context, op string, sub Subject, e *evalEntry, buf []activeGrant) ([]activeGrant, error) {
	allow := append(buf[:0], e.allow...)
	if !e.needAttrs {
		return allow, nil
	}
	var id []any
	if e.needID {
		id = e.id
	}
	attrs, err := sc.attributes(ctx, sub, id)
	if err != nil {
		return nil, fmt.Errorf("iam: %s: attributes of %s: %w", op, sub, err)
	}
	for i := range allow {
		g := &allow[i]
		g.bound = make([]abac.Conj, 0, len(g.plan.rules))
		for _, r := range g.plan.rules {
			if c, ok := r.Bind(attrs); ok {
				g.bound = append(g.bound, c)
			}
		}
	}
	return allow, nil
}

// subjectID returns the part of sub after the colon: "alice" for
// user:alice.
func subjectID(sub Subject) string {
	_, id, _ := strings.Cut(string(sub), ":")
	return id
}

// attributes returns sub's attributes with subject.id added (id, shared
// and read-only), unless id is nil (no rule needs it) or the source gives an
// id of its own.
func (sc *Scoper) attributes(ctx context.Context, sub Subject, id []any) (abac.Attributes, error) {
	var attrs abac.Attributes
	if sc.attrs != nil {
		var err error
		if attrs, err = sc.attrs.Attributes(ctx, sub); err != nil {
			return nil, err
		}
	}
	if _, ok := attrs["id"]; ok || id == nil {
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
// The filter is built from sub's grants in force now (directly or through
// its groups and units), with rbac's meaning of allow and deny:
//
//   - Each grant whose role allows perm (an allow rule of the role or of a
//     role it inherits covers perm, and no deny rule does) admits the records
//     of its scope — every record for org, records whose department field is
//     "roads" for dept:roads, and likewise for ward and facility (see
//     [ScopeFields]) — narrowed by the role's data rules for perm, if any.
//   - The data rules of a grant are those attached to its role or to any role
//     it inherits that itself allows perm, whose permission covers perm. They
//     are bound to sub's attributes (plus subject.id); a record passes if it
//     satisfies any one of them. A rule that does not bind (a missing
//     attribute) admits nothing: it never widens, so a grant whose rules all
//     fail to bind admits nothing.
//   - Grants admit the union of what each admits.
//   - Each grant whose role denies perm removes the records of its scope from
//     the result, whatever else is held; a deny at org leaves nothing.
//
// A record's scope is read from its own fields, not from the scope tree: a
// grant at dept:roads admits a record of a facility under roads only if the
// record's department field is "roads", so records should carry every scope
// field that applies to them.
//
// A subject with no grant gets [abac.None]. On error Filter returns None:
// malformed input wraps [ErrInvalidInput], an [AttributeSource] error is
// returned wrapped, and a closed Authorizer returns [ErrClosed].
//
// A filter made under a grant of an emergency role is recorded as an
// [EventEmergency] event with the filter in its Detail, as checks are.
//
// The first call after a policy change reads the policy source once to index
// the grants (see [Scoper]); other calls only read memory. What a subject's
// grants mean for a permission is cached per policy snapshot (sized like the
// subject cache, [WithSubjectCache]) until one of its grants starts or ends,
// so a filter without data rules costs a few hundred nanoseconds and no
// allocation. The returned Filter may then be shared with other calls: treat
// it as read-only, as package abac asks of every Filter. Filters with data
// rules are bound to attributes read on every call.
func (a *Authorizer) Filter(ctx context.Context, sub Subject, perm Permission, sc *Scoper) (abac.Filter, error) {
	e, x, err := a.entry(ctx, "filter", sub, perm, sc)
	if err != nil {
		return abac.None(), err
	}
	f := e.filter
	if e.needAttrs {
		var buf [8]activeGrant
		allow, err := sc.bind(ctx, "filter", sub, e, buf[:])
		if err != nil {
			return abac.None(), err
		}
		f = compose(allow, e.deny)
	}
	if e.emergency {
		a.emit(ctx, Event{Type: EventEmergency, Subject: sub, Revision: x.revision, Detail: map[string]string{
			"permission": string(perm), "kind": "filter", "filter": f.String(),
		}})
	}
	return f, nil
}

// denyGroup is the denied scopes whose records are selected by one field.
type denyGroup struct {
	field string
	ids   []*scopeConds
}

// filterBuilder collects the conjunctions of a filter in one backing array.
type filterBuilder struct {
	conds []abac.Cond
	out   []abac.Conj
	all   bool
}

// add appends a copy of c; an empty c means every record.
func (b *filterBuilder) add(c []abac.Cond) {
	if len(c) == 0 {
		b.all = true
		return
	}
	start := len(b.conds)
	b.conds = append(b.conds, c...)
	b.out = append(b.out, slices.Clip(b.conds[start:]))
}

// compose builds the filter of ev: the OR of what each allowing grant
// admits, with the records of every denied scope removed. Removing "field =
// id" is ANDing "field != id OR field IS NULL", distributed into the OR.
func compose(allow, deny []activeGrant) abac.Filter {
	var groupBuf [3]denyGroup
	groups := groupBuf[:0]
	for _, d := range deny {
		if d.sc.org {
			return abac.None()
		}
		i := slices.IndexFunc(groups, func(g denyGroup) bool { return g.field == d.sc.field })
		if i < 0 {
			groups = append(groups, denyGroup{field: d.sc.field})
			i = len(groups) - 1
		}
		if !slices.ContainsFunc(groups[i].ids, func(c *scopeConds) bool { return c.id == d.sc.id }) {
			groups[i].ids = append(groups[i].ids, d.sc)
		}
	}
	var b filterBuilder
	var scratchBuf [16]abac.Cond
	scratch := scratchBuf[:0]
	size := 0
	for _, g := range allow {
		size += max(1, len(g.bound))
	}
	size <<= len(groups)
	b.out = make([]abac.Conj, 0, size)
	b.conds = make([]abac.Cond, 0, size*(2+len(deny)))
	for i, g := range allow {
		scratch = scratch[:0]
		if !g.sc.org {
			scratch = append(scratch, g.sc.eq)
		}
		if len(g.plan.rules) == 0 {
			// Unrestricted within its scope: skip a scope already admitted.
			if slices.ContainsFunc(allow[:i], func(h activeGrant) bool { return h.sc == g.sc && len(h.plan.rules) == 0 }) {
				continue
			}
			b.expand(scratch, groups)
			continue
		}
		n := len(scratch)
		for _, r := range g.bound {
			scratch = append(scratch[:n], r...)
			b.expand(scratch, groups)
		}
	}
	if b.all {
		return abac.All()
	}
	return abac.Filter{Any: b.out}
}

// expand adds the conjunctions equivalent to c with every denied scope in
// groups removed. c is scratch space: expand may append to it.
func (b *filterBuilder) expand(c []abac.Cond, groups []denyGroup) {
	if len(groups) == 0 {
		b.add(c)
		return
	}
	g, rest := groups[0], groups[1:]
	for _, cond := range c {
		if cond.Field != g.field {
			continue
		}
		switch cond.Op {
		case abac.OpEq:
			if v, ok := cond.Values[0].(string); ok {
				if slices.ContainsFunc(g.ids, func(d *scopeConds) bool { return d.id == v }) {
					return // the conjunction selects a denied scope only
				}
				b.expand(c, rest) // a permitted id: no denied record left
				return
			}
		case abac.OpIsNull:
			b.expand(c, rest) // NULL is in no scope
			return
		}
	}
	// Either the field is none of the denied ids, or it is NULL.
	n := len(c)
	for _, d := range g.ids {
		c = append(c, d.ne)
	}
	b.expand(c, rest)
	b.expand(append(c[:n], g.ids[0].null), rest)
}

// CheckRecord decides whether sub may use perm on one record now, with the
// same meaning as [Authorizer.Filter]: the record must lie in the scope of a
// grant that allows perm and satisfy one of that grant's data rules (if it has
// any), and must not lie in the scope of a grant that denies perm.
//
// CheckRecord walks the grants and tests the record directly; it does not
// build a Filter. Use it for one record already loaded (an API that fetches by
// id), and Filter for queries. Like [Authorizer.Check] it returns a Decision
// whose zero value denies; on error the Decision denies.
func (a *Authorizer) CheckRecord(ctx context.Context, sub Subject, perm Permission, sc *Scoper, rec abac.Record) (Decision, error) {
	e, x, err := a.entry(ctx, "check record", sub, perm, sc)
	if err != nil {
		return Decision{Reason: "no decision"}, err
	}
	d, err := a.checkRecord(ctx, sub, sc, e, x, rec)
	if err == nil && e.emergency {
		a.emit(ctx, Event{Type: EventEmergency, Subject: sub, Revision: x.revision, Detail: map[string]string{
			"permission": string(perm), "kind": "record", "allowed": strconv.FormatBool(d.Allowed), "reason": d.Reason,
		}})
	}
	return d, err
}

// checkRecord decides rec against the grants of e.
func (a *Authorizer) checkRecord(ctx context.Context, sub Subject, sc *Scoper, e *evalEntry, x *grantIndex, rec abac.Record) (Decision, error) {
	var buf [8]activeGrant
	allow, err := sc.bind(ctx, "check record", sub, e, buf[:])
	if err != nil {
		return Decision{Reason: "no decision", Revision: x.revision}, err
	}
	if rec == nil {
		rec = abac.Map(nil) // a record with no fields
	}
	for _, d := range e.deny {
		if inScope(rec, d.sc) {
			return Decision{Reason: "denied by role " + string(d.role) + " at " + string(d.sc.scope), Revision: x.revision}, nil
		}
	}
	for _, g := range allow {
		if !inScope(rec, g.sc) {
			continue
		}
		if len(g.plan.rules) == 0 {
			return Decision{Allowed: true, Reason: "allowed by role " + string(g.role) + " at " + string(g.sc.scope), Revision: x.revision}, nil
		}
		for i, c := range g.bound {
			if c.Match(rec) {
				return Decision{Allowed: true, Reason: "allowed by role " + string(g.role) + " at " + string(g.sc.scope) +
					" under data rule " + strconv.Itoa(i+1), Revision: x.revision}, nil
			}
		}
	}
	return Decision{Reason: "no grant in force admits the record", Revision: x.revision}, nil
}

// inScope reports whether rec belongs to the scope of c, read from its own
// fields.
func inScope(rec abac.Record, c *scopeConds) bool {
	return c.org || c.eq.Match(rec)
}
