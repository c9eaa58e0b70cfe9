package rbac

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/civic-platform/security/internal/instant"
	"github.com/civic-platform/security/internal/perm"
)

// MaxRoleDepth is the longest inheritance chain Compile accepts, counted in
// roles. City hierarchies are up to 8 deep; the bound keeps Explain paths
// short and the Casbin reference (whose role manager is configured deeper)
// in agreement.
const MaxRoleDepth = 32

// MaxEmergencyWindow is the longest window a grant of an emergency role may
// name.
const MaxEmergencyWindow = 24 * time.Hour

// Policy is a compiled, read-only [Model]. It is safe for concurrent use
// because nothing mutates it after [Compile] returns.
type Policy struct {
	permIdx   nameIndex // known exact permission -> bit
	permNames []Permission
	wildIdx   map[string]int32 // wildcard rule prefix ("permits.") -> bit, after the exact ones
	words     int              // uint64 words per bitset

	scopeIdx nameIndex // declared or granted scopes; org is 0
	scopes   []scopeInfo

	roleIdx map[RoleID]int32
	roles   []roleInfo
	bits    []uint64 // per role: allow words then deny words

	subjIdx  nameIndex
	subjects []subjInfo
	flat     []int32 // grant indices, sliced by subjInfo.start/end
	// hot holds copies of grants[flat[k]] at k, so that a check reads a
	// subject's grants from one contiguous run instead of chasing indices.
	hot     []hotGrant
	members []int32 // container subject indices, sliced by subjInfo.mstart/mend

	grants []cgrant
	lines  int

	sod *sodIndex // conflict rules and waivers (conflict.go)

	quarantine []QuarantinedRow // quarantine.go
	// blocked[si] reports that a quarantined row blocks subject si, or a
	// container it belongs to, so every check for it denies; nil when no
	// row blocks anyone. Kept apart from subjInfo so that the subject
	// table a check reads stays 32 bytes an entry.
	blocked []bool
}

type scopeInfo struct {
	name   Scope
	parent int32 // -1 for org
}

type roleInfo struct {
	role      Role
	depth     int
	denies    bool // the role's effective deny set is not empty
	emergency bool // the role is or inherits an emergency role
}

type subjInfo struct {
	name         Subject
	start, end   uint32 // flat[start:end]: own grants, then the grants of each container
	mstart, mend uint32 // members[mstart:mend]: containers this subject belongs to
}

// hotGrant is a grant as a check reads it, in the subject's run of hot:
// everything the decision needs, and the grant's index for the Result, in
// 32 bytes.
type hotGrant struct {
	grant             int32 // index in grants
	role, scope       int32
	emergency, denies bool
	from, until       int64
}

type cgrant struct {
	holder      int32 // subject index of the grant's subject (a user or a container)
	role        int32
	scope       int32
	emergency   bool  // the role is an emergency role (or inherits one)
	denies      bool  // the role denies something: checks test its deny bits
	from, until int64 // Unix ns; [from, until)
}

// Compile validates m — names, unknown roles, inheritance cycles, grant
// windows, duplicate grants — and precomputes each role's effective
// permissions, so that checks are a few map lookups and bit tests and take
// no locks. Errors wrap [ErrInvalidInput].
//
// Compile runs in phases, each a function of its own below: index the
// permission names (validating each), build the scope tree, fold each role
// with everything it inherits into allow and deny bitsets, lay out the
// subjects, grants and memberships, and build the tables a check reads.
// Conflict rules are compiled last (conflict.go).
func Compile(m Model) (*Policy, error) {
	p := &Policy{
		scopes:  []scopeInfo{{name: OrgScope, parent: -1}},
		roleIdx: make(map[RoleID]int32, len(m.Roles)),
	}
	c := &compiler{p: p, m: m}
	for _, phase := range []func() error{
		c.indexPermissions,
		c.buildScopeTree,
		c.foldRoles,
		c.layOutGrants,
		c.layOutMembers,
	} {
		if err := phase(); err != nil {
			return nil, err
		}
	}
	c.buildTables()
	p.markBlocked(m.Quarantine)
	p.lines = lineCount(m, len(p.permNames))
	if err := p.compileConflicts(m); err != nil {
		return nil, err
	}
	return p, nil
}

// compiler holds what the phases of [Compile] pass to each other; none of
// it outlives the call.
type compiler struct {
	p *Policy
	m Model
	// byPrefix lists, for each wildcard prefix ("permits."), the bits of
	// the known permissions it covers (indexPermissions).
	byPrefix map[string][]int32
	scopeIdx map[Scope]int32 // buildScopeTree, then granted scopes
	subjIdx  map[Subject]int32
	pairs    [][2]int32 // (member, container), from layOutMembers
}

// indexPermissions validates every permission the catalog and the roles
// name and gives each a bit: the known exact permissions in sorted order,
// then one bit per wildcard rule, so that a permission no rule names
// exactly is still covered by the wildcards that cover it.
func (c *compiler) indexPermissions() error {
	p := c.p
	known := map[string]struct{}{}
	for _, x := range c.m.Permissions {
		if err := x.Validate(); err != nil {
			return within("permission catalog", err)
		}
		known[string(x)] = struct{}{}
	}
	p.wildIdx = map[string]int32{}
	for _, r := range c.m.Roles {
		for _, list := range [][]Permission{r.Permissions, r.Deny} {
			for _, x := range list {
				if err := x.ValidatePattern(); err != nil {
					return fmt.Errorf("rbac: role %s: %w", perm.Quote(string(r.ID)), err)
				}
				if x.IsWildcard() {
					p.wildIdx[string(x[:len(x)-1])] = -1
				} else {
					known[string(x)] = struct{}{}
				}
			}
		}
	}
	names := slices.Sorted(maps.Keys(known))
	wilds := slices.Sorted(maps.Keys(p.wildIdx))
	for i, w := range wilds {
		p.wildIdx[w] = int32(len(names) + i)
	}
	c.byPrefix = map[string][]int32{}
	p.permNames = make([]Permission, len(names))
	for i, n := range names {
		p.permNames[i] = Permission(n)
		perm.WildcardPrefixes(n, func(prefix string) bool {
			c.byPrefix[prefix] = append(c.byPrefix[prefix], int32(i))
			return true
		})
	}
	p.words = (len(names) + len(wilds) + 63) / 64
	p.permIdx = newNameIndex(len(names), func(i int) string { return names[i] })
	return nil
}

// buildScopeTree validates the declared scopes and links each to its
// parent (org when none is named), refusing duplicates, undeclared parents
// and cycles.
func (c *compiler) buildScopeTree() error {
	p := c.p
	c.scopeIdx = map[Scope]int32{OrgScope: 0}
	parentOf := func(s ScopeNode) Scope {
		if s.Parent == "" {
			return OrgScope
		}
		return s.Parent
	}
	for _, s := range c.m.Scopes {
		if err := s.Scope.Validate(); err != nil {
			return within("scope tree", err)
		}
		if s.Scope == OrgScope {
			return invalid("scope", string(s.Scope), "org is the root and has no parent")
		}
		if err := parentOf(s).Validate(); err != nil {
			return fmt.Errorf("rbac: scope tree: parent of %s: %w", s.Scope, err)
		}
		if _, dup := c.scopeIdx[s.Scope]; dup {
			return invalid("scope", string(s.Scope), "declared twice")
		}
		c.scopeIdx[s.Scope] = int32(len(p.scopes))
		p.scopes = append(p.scopes, scopeInfo{name: s.Scope, parent: -2})
	}
	for i, s := range c.m.Scopes {
		pi, ok := c.scopeIdx[parentOf(s)]
		if !ok {
			return invalid("scope", string(s.Scope), "parent "+perm.Quote(string(parentOf(s)))+" is not declared")
		}
		p.scopes[i+1].parent = pi
	}
	for i := range p.scopes { // cycle check: every chain must reach org
		seen := 0
		for s := int32(i); s != 0; s = p.scopes[s].parent {
			if seen++; seen > len(p.scopes) {
				return invalid("scope", string(p.scopes[i].name), "scope tree has a cycle")
			}
		}
	}
	return nil
}

// foldRoles validates and indexes the roles, then folds each with
// everything it inherits (composites included) into one allow and one
// deny bitset, refusing unknown parents, cycles and chains deeper than
// [MaxRoleDepth].
func (c *compiler) foldRoles() error {
	p := c.p
	for i, r := range c.m.Roles {
		if err := r.ID.Validate(); err != nil {
			return err
		}
		if _, dup := p.roleIdx[r.ID]; dup {
			return invalid("role", string(r.ID), "declared twice")
		}
		p.roleIdx[r.ID] = int32(i)
	}
	p.roles = make([]roleInfo, len(c.m.Roles))
	for i, r := range c.m.Roles {
		p.roles[i] = roleInfo{role: r, depth: -1}
		for _, parent := range r.Inherits {
			if _, ok := p.roleIdx[parent]; !ok {
				return fmt.Errorf("rbac: role %s inherits %w", perm.Quote(string(r.ID)), &NotFoundErrorInvalid{Kind: "role", Name: perm.Quote(string(parent))})
			}
		}
	}
	p.bits = make([]uint64, 2*p.words*len(c.m.Roles))
	f := &folder{c: c, state: make([]uint8, len(c.m.Roles))}
	for i := range p.roles {
		if err := f.fold(int32(i)); err != nil {
			return err
		}
	}
	return nil
}

// folder walks the inheritance graph depth first for foldRoles.
type folder struct {
	c     *compiler
	state []uint8  // per role: 0 not seen, 1 being folded, 2 done
	stack []RoleID // the roles being folded, outermost first
}

// fold folds role i after its parents, so that its bitsets are its own
// rules or'ed with its parents' folded bitsets.
func (f *folder) fold(i int32) error {
	p := f.c.p
	switch f.state[i] {
	case 2:
		return nil
	case 1:
		id := p.roles[i].role.ID
		at := slices.Index(f.stack, id)
		return &CycleError{Path: append(slices.Clone(f.stack[at:]), id)}
	}
	f.state[i] = 1
	f.stack = append(f.stack, p.roles[i].role.ID)
	r := &p.roles[i]
	allow, deny := p.allowBits(i), p.denyBits(i)
	depth := 1
	r.emergency = r.role.Emergency
	for _, parent := range r.role.Inherits {
		pi := p.roleIdx[parent]
		if err := f.fold(pi); err != nil {
			return err
		}
		depth = max(depth, p.roles[pi].depth+1)
		r.emergency = r.emergency || p.roles[pi].emergency
		orInto(allow, p.allowBits(pi))
		orInto(deny, p.denyBits(pi))
	}
	for _, x := range r.role.Permissions {
		p.setRule(allow, x, f.c.byPrefix)
	}
	for _, x := range r.role.Deny {
		p.setRule(deny, x, f.c.byPrefix)
	}
	if depth > MaxRoleDepth {
		return invalid("role", string(r.role.ID), fmt.Sprintf("inheritance deeper than %d roles", MaxRoleDepth))
	}
	r.depth = depth
	r.denies = slices.ContainsFunc(deny, func(w uint64) bool { return w != 0 })
	f.stack = f.stack[:len(f.stack)-1]
	f.state[i] = 2
	return nil
}

// subject interns s, validating it the first time it is seen.
func (c *compiler) subject(s Subject) (int32, error) {
	if i, ok := c.subjIdx[s]; ok {
		return i, nil
	}
	if err := s.Validate(); err != nil {
		return 0, err
	}
	i := int32(len(c.p.subjects))
	c.subjIdx[s] = i
	c.p.subjects = append(c.p.subjects, subjInfo{name: s})
	return i, nil
}

// layOutGrants validates each grant (subject, declared role, scope,
// window, emergency bounds, no duplicate) and records it by indices. A
// granted scope the tree does not declare hangs under org.
func (c *compiler) layOutGrants() error {
	p, m := c.p, c.m
	c.subjIdx = make(map[Subject]int32, len(m.Grants)/2+len(m.Members)/2)
	p.subjects = make([]subjInfo, 0, len(m.Grants)/2+len(m.Members)/2)
	type grantID struct{ holder, role, scope int32 } // a GrantKey, by indices
	seen := make(map[grantID]struct{}, len(m.Grants))
	p.grants = make([]cgrant, 0, len(m.Grants))
	for _, g := range m.Grants {
		h, err := c.subject(g.Subject)
		if err != nil {
			return within("grant", err)
		}
		ri, ok := p.roleIdx[g.Role]
		if !ok {
			if err := g.Role.Validate(); err != nil {
				return within("grant", err)
			}
			return fmt.Errorf("rbac: grant %s: %w", g.Key(), &NotFoundErrorInvalid{Kind: "role", Name: perm.Quote(string(g.Role))})
		}
		si, err := c.grantedScope(g.Scope)
		if err != nil {
			return err
		}
		from, until, err := window(g)
		if err != nil {
			return err
		}
		if p.roles[ri].emergency {
			if g.NotBefore.IsZero() || g.NotAfter.IsZero() || g.NotAfter.Sub(g.NotBefore) > MaxEmergencyWindow {
				return &EmergencyError{Subject: g.Subject, Role: g.Role,
					Reason: "grant " + g.Key().String() + ": an emergency role (or one that inherits one) is granted only for a window of at most 24h with both ends set"}
			}
		}
		id := grantID{h, ri, si}
		if _, dup := seen[id]; dup {
			return invalid("grant", g.Key().String(), "granted twice")
		}
		seen[id] = struct{}{}
		p.grants = append(p.grants, cgrant{holder: h, role: ri, scope: si, emergency: p.roles[ri].emergency, denies: p.roles[ri].denies, from: from, until: until})
	}
	p.scopeIdx = newNameIndex(len(p.scopes), func(i int) string { return string(p.scopes[i].name) })
	return nil
}

// grantedScope returns the index of a granted scope, adding one the tree
// does not declare under org.
func (c *compiler) grantedScope(s Scope) (int32, error) {
	if si, ok := c.scopeIdx[s]; ok {
		return si, nil
	}
	if err := s.Validate(); err != nil { // declared scopes were validated with the tree
		return 0, within("grant", err)
	}
	si := int32(len(c.p.scopes))
	c.scopeIdx[s] = si
	c.p.scopes = append(c.p.scopes, scopeInfo{name: s, parent: 0})
	return si, nil
}

// layOutMembers validates the memberships (a user or service account
// joins a group or unit) and collects them as sorted, distinct (member,
// container) pairs: a membership listed twice counts once.
func (c *compiler) layOutMembers() error {
	c.pairs = make([][2]int32, 0, len(c.m.Members))
	for _, ms := range c.m.Members {
		mi, err := c.subject(ms.Member)
		if err != nil {
			return within("membership", err)
		}
		gi, err := c.subject(ms.Group)
		if err != nil {
			return within("membership", err)
		}
		if !ms.Member.IsPrincipal() {
			return invalid("membership", string(ms.Member), "only users and service accounts join groups and units")
		}
		if ms.Group.IsPrincipal() {
			return invalid("membership", string(ms.Group), "a user or service account cannot have members")
		}
		c.pairs = append(c.pairs, [2]int32{mi, gi})
	}
	slices.SortFunc(c.pairs, func(a, b [2]int32) int {
		if a[0] != b[0] {
			return int(a[0] - b[0])
		}
		return int(a[1] - b[1])
	})
	c.pairs = slices.Compact(c.pairs)
	c.p.subjIdx = newNameIndex(len(c.p.subjects), func(i int) string { return string(c.p.subjects[i].name) })
	return nil
}

// buildTables lays out each subject's grants contiguously, its own then
// those of each group or unit it belongs to (a counting sort, no
// per-subject maps), and copies them into the hot table a check reads.
func (c *compiler) buildTables() {
	p, pairs := c.p, c.pairs
	direct := csr(len(p.subjects), len(p.grants), func(yield func(owner, item int32)) {
		for i := range p.grants {
			yield(p.grants[i].holder, int32(i))
		}
	})
	p.members = make([]int32, len(pairs))
	total := len(p.grants)
	for i, pr := range pairs {
		p.members[i] = pr[1]
		total += int(direct.start[pr[1]+1] - direct.start[pr[1]])
	}
	p.flat = make([]int32, 0, total)
	k := 0
	for i := range p.subjects {
		s := &p.subjects[i]
		s.start = uint32(len(p.flat))
		p.flat = append(p.flat, direct.of(int32(i))...)
		s.mstart = uint32(k)
		for ; k < len(pairs) && pairs[k][0] == int32(i); k++ {
			p.flat = append(p.flat, direct.of(pairs[k][1])...)
		}
		s.mend = uint32(k)
		s.end = uint32(len(p.flat))
	}
	p.hot = make([]hotGrant, len(p.flat))
	for k, gi := range p.flat {
		g := &p.grants[gi]
		p.hot[k] = hotGrant{grant: gi, role: g.role, scope: g.scope, emergency: g.emergency, denies: g.denies, from: g.from, until: g.until}
	}
}

// csrIndex groups items by owner: the items of owner o are
// items[start[o]:start[o+1]], in the order they were yielded.
type csrIndex struct {
	start []int32
	items []int32
}

func (c csrIndex) of(o int32) []int32 { return c.items[c.start[o]:c.start[o+1]] }

// csr builds a csrIndex for owners 0..n-1 from m (owner, item) pairs, which
// each yields in the same order.
func csr(n, m int, each func(yield func(owner, item int32))) csrIndex {
	c := csrIndex{start: make([]int32, n+1), items: make([]int32, m)}
	each(func(o, _ int32) { c.start[o+1]++ })
	for i := 1; i <= n; i++ {
		c.start[i] += c.start[i-1]
	}
	next := slices.Clone(c.start[:n])
	each(func(o, item int32) {
		c.items[next[o]] = item
		next[o]++
	})
	return c
}

// NotFoundErrorInvalid reports a reference to a role or rule that does
// not exist inside a model being compiled: the model is invalid, so it
// wraps [ErrInvalidInput] only. A change that names a missing role is
// refused before compiling, with a [*NotFoundError] ([ErrNotFound]).
type NotFoundErrorInvalid NotFoundError

// Error implements the error interface.
func (e *NotFoundErrorInvalid) Error() string { return fmt.Sprintf("missing %s %s", e.Kind, e.Name) }

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *NotFoundErrorInvalid) Is(target error) bool { return target == ErrInvalidInput }

// window converts a grant's validity window to Unix nanoseconds.
func window(g Grant) (from, until int64, err error) {
	from, until = 0, math.MaxInt64
	if !g.NotBefore.IsZero() {
		if !instant.InRange(g.NotBefore) {
			return 0, 0, invalid("grant", g.Key().String(), "valid_from not strictly between the Unix epoch and 2262")
		}
		from = g.NotBefore.UnixNano()
	}
	if !g.NotAfter.IsZero() {
		if !instant.InRange(g.NotAfter) {
			return 0, 0, invalid("grant", g.Key().String(), "valid_until not strictly between the Unix epoch and 2262")
		}
		until = g.NotAfter.UnixNano()
	}
	if until <= from {
		return 0, 0, invalid("grant", g.Key().String(), "valid_until is not after valid_from")
	}
	return from, until, nil
}

func lineCount(m Model, perms int) int {
	// One line per grant (plus its deny twin), membership, inheritance edge,
	// rule, declared scope and known permission: the Casbin line count.
	n := 2*len(m.Grants) + len(m.Members) + len(m.Scopes) + perms
	for _, r := range m.Roles {
		n += 1 + len(r.Inherits) + len(r.Permissions) + len(r.Deny)
	}
	return n
}

// setRule sets the bits of rule x: an exact permission's bit, or a
// wildcard's own bit and the bits of every known permission it covers.
func (p *Policy) setRule(bits []uint64, x Permission, byPrefix map[string][]int32) {
	set := func(i int32) { bits[i>>6] |= 1 << (uint(i) & 63) }
	if x.IsWildcard() {
		prefix := string(x[:len(x)-1])
		set(p.wildIdx[prefix])
		for _, i := range byPrefix[prefix] {
			set(i)
		}
		return
	}
	i, _ := p.permission(x) // x is an exact rule: it has a bit
	set(i)
}

func orInto(dst, src []uint64) {
	for i := range dst {
		dst[i] |= src[i]
	}
}

func (p *Policy) allowBits(r int32) []uint64 {
	o := int(r) * 2 * p.words
	return p.bits[o : o+p.words : o+p.words]
}

func (p *Policy) denyBits(r int32) []uint64 {
	o := int(r)*2*p.words + p.words
	return p.bits[o : o+p.words : o+p.words]
}

func has(bits []uint64, i int32) bool { return bits[i>>6]&(1<<(uint(i)&63)) != 0 }

// Lines returns the number of Casbin policy lines the compiled model
// corresponds to, for memory-per-line reporting.
func (p *Policy) Lines() int { return p.lines }

// Subjects returns the number of subjects (users, service accounts, groups
// and units) the policy names.
func (p *Policy) Subjects() int { return len(p.subjects) }

// KnownPermissions returns every concrete permission the policy knows, sorted.
func (p *Policy) KnownPermissions() []Permission { return slices.Clone(p.permNames) }

// HasRole reports whether the policy declares role r.
func (p *Policy) HasRole(r RoleID) bool { _, ok := p.roleIdx[r]; return ok }

// Role returns the declared role r.
func (p *Policy) Role(r RoleID) (Role, bool) {
	i, ok := p.roleIdx[r]
	if !ok {
		return Role{}, false
	}
	return p.roles[i].role.clone(), true
}

func scopeString(s Scope) string {
	if strings.ContainsRune(string(s), ':') || s == OrgScope {
		return string(s)
	}
	return perm.Quote(string(s))
}
