package casbinx

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/civic-platform/security/rbac"
)

// Row is a stored policy line with its id in the store (casbin_rule.id).
type Row struct {
	ID int64
	Line
}

// LoadRows rebuilds and compiles a model from stored rows, as a store loads
// them, never failing the whole policy because of one row. Rows this
// package writes load as [Decode] reads them. Any other row — written by a
// plain Casbin enforcer or by hand — that the model cannot express exactly
// is left out and listed in the model's Quarantine (see
// [rbac.QuarantinedRow]) with its id and the reason: a malformed value, an
// instant the encoding cannot represent, a reference to a role that has no
// rows, one twin of an assignment without the other, a second parent of a
// scope, an inheritance edge that would close a cycle, a line of the wrong
// length or type.
//
// A quarantined row grants nothing. So that the policy never allows what
// a Casbin enforcer over the same rows denies, LoadRows works out, on the
// full graph of rows as Casbin reads it, which subjects the row could
// subject to a deny, and blocks them (every check for them denies):
//
//   - a deny line (p, eft "deny") not loaded blocks its subject if its role
//     reaches a deny rule; a p line of the wrong length blocks its subject
//     (Casbin refuses every request over it);
//   - a g line not loaded blocks its member;
//   - a g2 line not loaded whose target reaches a deny rule blocks the
//     holders of every deny line whose role reaches its source;
//   - a g3 line not loaded blocks the holders of deny lines at the scopes
//     its parent reaches (org excepted, which covers every scope anyway).
//
// LoadRows fails only when the extras document is malformed or the loaded
// rows still do not compile without any grant. It sorts rows by id in
// place.
func LoadRows(rows []Row, extras []byte) (rbac.Model, *rbac.Policy, error) {
	l := newLoader(rows)
	l.scopes()
	l.roles()
	l.members()
	l.grants()
	m, err := applyExtras(l.m, extras)
	if err != nil {
		return rbac.Model{}, nil, err
	}
	l.m = m
	l.declareConflictRoles()
	p, err := l.compile()
	if err != nil {
		return rbac.Model{}, nil, fmt.Errorf("casbinx: stored policy is invalid: %w", err)
	}
	return l.m, p, nil
}

// loader holds the state of one LoadRows.
type loader struct {
	rows []Row
	m    rbac.Model
	// why holds the reason each quarantined row (by index) was not loaded;
	// blocks what it blocks.
	why    map[int]string
	blocks map[int][]rbac.Subject
	// Casbin's graphs over every row of each type, whatever its shape.
	g2, g3 map[string][]string
	// dup marks a row that repeats an earlier one: quarantined, and
	// adding nothing to what Casbin reads.
	dup map[int]bool
	// denyLines indexes the p rows with eft "deny" (and six values).
	denyLines []int
	// reachesDeny memoises whether a g2 node reaches a "deny:" node.
	reachesDeny map[string]bool
	// grantRows maps each loaded grant (by index in m.Grants) to its two
	// rows: allow, deny.
	grantRows [][2]int
	roleIdx   map[rbac.RoleID]int
	// emergency marks, by index in m.Roles, the roles that are or inherit
	// an emergency role.
	emergency []bool
}

// newLoader sorts rows by id (in place) and builds Casbin's graphs.
func newLoader(rows []Row) *loader {
	l := &loader{
		rows:   rows,
		g2:     map[string][]string{},
		g3:     map[string][]string{},
		why:    map[int]string{},
		blocks: map[int][]rbac.Subject{},
		dup:    map[int]bool{},
	}
	byID := func(a, b Row) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	}
	if !slices.IsSortedFunc(l.rows, byID) {
		slices.SortFunc(l.rows, byID)
	}
	for i, r := range l.rows {
		v := r.Values
		switch r.PType {
		case "g2":
			if len(v) >= 2 {
				l.g2[v[0]] = append(l.g2[v[0]], v[1])
			}
		case "g3":
			if len(v) >= 2 {
				l.g3[v[0]] = append(l.g3[v[0]], v[1])
			}
		case "p":
			if len(v) == 6 && v[5] == "deny" {
				l.denyLines = append(l.denyLines, i)
			}
		case "g":
		default:
			l.quarantine(i, fmt.Sprintf("unknown policy type %q", r.PType))
		}
	}
	return l
}

func (l *loader) quarantine(i int, reason string) {
	if l.why[i] == "" {
		l.why[i] = reason
	}
}

func (l *loader) block(i int, s string) {
	if s != "" && !slices.Contains(l.blocks[i], rbac.Subject(s)) {
		l.blocks[i] = append(l.blocks[i], rbac.Subject(s))
	}
}

// denies reports whether g2 node n reaches a "deny:" node in Casbin's
// graph (n itself counts: Casbin's role manager links a name to itself).
func (l *loader) denies(n string) bool {
	if l.reachesDeny == nil {
		l.reachesDeny = map[string]bool{}
	}
	seen := map[string]bool{n: true}
	queue := []string{n}
	found := false
	for len(queue) > 0 && !found {
		cur := queue[0]
		queue = queue[1:]
		if v, ok := l.reachesDeny[cur]; ok {
			if v {
				found = true
			}
			continue
		}
		if strings.HasPrefix(cur, denyPrefix) {
			found = true
			break
		}
		for _, next := range l.g2[cur] {
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	if found {
		l.reachesDeny[n] = true
	} else {
		// Nothing seen reaches a deny node: memoise them all.
		for s := range seen {
			l.reachesDeny[s] = false
		}
	}
	return found
}

// reach returns the nodes reachable from n in graph g (n included).
func reach(g map[string][]string, n string) map[string]bool {
	seen := map[string]bool{n: true}
	queue := []string{n}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range g[cur] {
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	return seen
}

// reverseReach returns the nodes from which n is reachable in g (n
// included).
func reverseReach(g map[string][]string, n string) map[string]bool {
	rev := map[string][]string{}
	for a, bs := range g {
		for _, b := range bs {
			rev[b] = append(rev[b], a)
		}
	}
	return reach(rev, n)
}

// blockDenyHolders blocks, for row i, the subject of every deny line whose
// role and scope satisfy keep.
func (l *loader) blockDenyHolders(i int, keep func(role, scope string) bool) {
	for _, d := range l.denyLines {
		v := l.rows[d].Values
		if keep(v[1], v[2]) && l.denies(v[1]) {
			l.block(i, v[0])
		}
	}
}

// scopes reads the g3 lines: the scope tree.
func (l *loader) scopes() {
	parent := map[rbac.Scope]rbac.Scope{}
	edgeRow := map[rbac.Scope]int{}
	var order []rbac.Scope
	for i, r := range l.rows {
		if r.PType != "g3" || l.dup[i] {
			continue
		}
		v := r.Values
		if len(v) != 2 {
			l.quarantine(i, fmt.Sprintf("g3 line with %d values, want 2", len(v)))
			continue
		}
		child, par := rbac.Scope(v[0]), rbac.Scope(v[1])
		if err := child.Validate(); err != nil {
			l.quarantine(i, err.Error())
			continue
		}
		if child == rbac.OrgScope {
			l.quarantine(i, "org is the root and has no parent")
			continue
		}
		if err := par.Validate(); err != nil {
			l.quarantine(i, "parent: "+err.Error())
			continue
		}
		if p, ok := parent[child]; ok {
			if p == par {
				l.quarantine(i, "duplicate of row "+strconv.FormatInt(l.rows[edgeRow[child]].ID, 10))
				l.dup[i] = true
			} else {
				l.quarantine(i, fmt.Sprintf("second parent of %s (first: %s)", child, p))
			}
			continue
		}
		parent[child] = par
		edgeRow[child] = i
		order = append(order, child)
	}
	// Cycles: a chain that never reaches org or an undeclared root.
	for _, c := range order {
		seen := map[rbac.Scope]bool{}
		s := c
		for {
			p, ok := parent[s]
			if !ok || p == rbac.OrgScope {
				break
			}
			if seen[s] {
				// s is on a cycle: quarantine every edge of it.
				for x := s; ; {
					i := edgeRow[x]
					l.quarantine(i, "scope tree cycle through "+string(x))
					nx := parent[x]
					delete(parent, x)
					if nx == s {
						break
					}
					x = nx
				}
				break
			}
			seen[s] = true
			s = p
		}
	}
	declared := map[rbac.Scope]bool{}
	for _, c := range order {
		if _, ok := parent[c]; ok {
			declared[c] = true
		}
	}
	for _, c := range order {
		p, ok := parent[c]
		if !ok {
			continue
		}
		if p != rbac.OrgScope && !declared[p] {
			// A parent with no line of its own is a root, as in Casbin.
			declared[p] = true
			l.m.Scopes = append(l.m.Scopes, rbac.ScopeNode{Scope: p, Parent: rbac.OrgScope})
		}
		l.m.Scopes = append(l.m.Scopes, rbac.ScopeNode{Scope: c, Parent: p})
	}
	// Blocks: a g3 edge not loaded lets requests at its child reach the
	// deny lines at the scopes its parent reaches.
	for i, r := range l.rows {
		if r.PType != "g3" || l.why[i] == "" || l.dup[i] || len(r.Values) < 2 {
			continue
		}
		up := reach(l.g3, r.Values[1])
		l.blockDenyHolders(i, func(_, scope string) bool { return scope != string(rbac.OrgScope) && up[scope] })
	}
}

// roles reads the g2 lines: roles, their rules and inheritance, and the
// permission catalog.
func (l *loader) roles() {
	roles := map[rbac.RoleID]*rbac.Role{}
	var order []rbac.RoleID
	type edge struct {
		row          int
		child, paren rbac.RoleID
	}
	var edges []edge
	for i, r := range l.rows {
		if r.PType != "g2" || l.dup[i] {
			continue
		}
		v := r.Values
		if len(v) != 2 {
			l.quarantine(i, fmt.Sprintf("g2 line with %d values, want 2", len(v)))
			continue
		}
		a, b := v[0], v[1]
		if b == metaPerm {
			x, ok := strings.CutPrefix(a, allowPrefix)
			if !ok {
				l.quarantine(i, fmt.Sprintf("catalog line for %q, want allow:<permission>", a))
				continue
			}
			if err := rbac.Permission(x).Validate(); err != nil {
				l.quarantine(i, err.Error())
				continue
			}
			l.m.Permissions = append(l.m.Permissions, rbac.Permission(x))
			continue
		}
		id, ok := strings.CutPrefix(a, rolePrefix)
		if !ok {
			l.quarantine(i, fmt.Sprintf("%q is not a role", a))
			continue
		}
		if err := rbac.RoleID(id).Validate(); err != nil {
			l.quarantine(i, err.Error())
			continue
		}
		var apply func(*rbac.Role)
		switch {
		case b == metaRole:
			apply = func(*rbac.Role) {}
		case b == metaComp:
			apply = func(r *rbac.Role) { r.Composite = true }
		case b == metaEmerg:
			apply = func(r *rbac.Role) { r.Emergency = true }
		case strings.HasPrefix(b, rolePrefix):
			parent := rbac.RoleID(strings.TrimPrefix(b, rolePrefix))
			if err := parent.Validate(); err != nil {
				l.quarantine(i, "parent: "+err.Error())
				continue
			}
			edges = append(edges, edge{row: i, child: rbac.RoleID(id), paren: parent})
			apply = func(*rbac.Role) {}
		case strings.HasPrefix(b, allowPrefix), strings.HasPrefix(b, denyPrefix):
			deny := strings.HasPrefix(b, denyPrefix)
			x := rbac.Permission(b[strings.IndexByte(b, ':')+1:])
			if err := x.ValidatePattern(); err != nil {
				l.quarantine(i, err.Error())
				continue
			}
			apply = func(r *rbac.Role) {
				if deny {
					r.Deny = append(r.Deny, x)
				} else {
					r.Permissions = append(r.Permissions, x)
				}
			}
		default:
			l.quarantine(i, fmt.Sprintf("unexpected g2 target %q", b))
			continue
		}
		r, ok := roles[rbac.RoleID(id)]
		if !ok {
			r = &rbac.Role{ID: rbac.RoleID(id)}
			roles[r.ID] = r
			order = append(order, r.ID)
		}
		apply(r)
	}
	// Inheritance, in row order: an edge to a role with no rows, or one
	// that would close a cycle or make a chain deeper than rbac accepts,
	// is not loaded.
	parents := map[rbac.RoleID][]rbac.RoleID{}
	depth := func(id rbac.RoleID) int { // longest chain from id, in roles
		memo := map[rbac.RoleID]int{}
		var walk func(rbac.RoleID) int
		walk = func(r rbac.RoleID) int {
			if d, ok := memo[r]; ok {
				return d
			}
			memo[r] = 1 // guards recursion; the graph is kept acyclic
			d := 1
			for _, p := range parents[r] {
				d = max(d, walk(p)+1)
			}
			memo[r] = d
			return d
		}
		return walk(id)
	}
	height := func(id rbac.RoleID) int { // longest chain of roles that inherit id, in roles
		best := 1
		var walk func(rbac.RoleID, int, map[rbac.RoleID]bool)
		walk = func(r rbac.RoleID, n int, on map[rbac.RoleID]bool) {
			best = max(best, n)
			for c, ps := range parents {
				if !on[c] && slices.Contains(ps, r) {
					on[c] = true
					walk(c, n+1, on)
					delete(on, c)
				}
			}
		}
		walk(id, 1, map[rbac.RoleID]bool{id: true})
		return best
	}
	reaches := func(from, to rbac.RoleID) bool {
		seen := map[rbac.RoleID]bool{from: true}
		stack := []rbac.RoleID{from}
		for len(stack) > 0 {
			cur := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if cur == to {
				return true
			}
			for _, p := range parents[cur] {
				if !seen[p] {
					seen[p] = true
					stack = append(stack, p)
				}
			}
		}
		return false
	}
	for _, e := range edges {
		switch {
		case roles[e.paren] == nil:
			l.quarantine(e.row, fmt.Sprintf("role %s has no lines", e.paren))
		case e.child == e.paren || reaches(e.paren, e.child):
			l.quarantine(e.row, fmt.Sprintf("inheritance %s -> %s closes a cycle", e.child, e.paren))
		case height(e.child)+depth(e.paren) > rbac.MaxRoleDepth:
			l.quarantine(e.row, fmt.Sprintf("inheritance %s -> %s makes a chain deeper than %d roles", e.child, e.paren, rbac.MaxRoleDepth))
		default:
			parents[e.child] = append(parents[e.child], e.paren)
			roles[e.child].Inherits = append(roles[e.child].Inherits, e.paren)
		}
	}
	slices.Sort(order)
	l.roleIdx = make(map[rbac.RoleID]int, len(order))
	for _, id := range order {
		r := roles[id]
		slices.Sort(r.Inherits)
		r.Inherits = slices.Compact(r.Inherits)
		slices.Sort(r.Permissions)
		r.Permissions = slices.Compact(r.Permissions)
		slices.Sort(r.Deny)
		r.Deny = slices.Compact(r.Deny)
		l.roleIdx[id] = len(l.m.Roles)
		l.m.Roles = append(l.m.Roles, *r)
	}
	slices.Sort(l.m.Permissions)
	l.m.Permissions = slices.Compact(l.m.Permissions)
	l.emergency = make([]bool, len(l.m.Roles))
	state := make([]uint8, len(l.m.Roles)) // 0 new, 1 visiting, 2 done; the graph is acyclic
	var visit func(i int) bool
	visit = func(i int) bool {
		if state[i] != 0 {
			return l.emergency[i]
		}
		state[i] = 1
		e := l.m.Roles[i].Emergency
		for _, p := range l.m.Roles[i].Inherits {
			if visit(l.roleIdx[p]) {
				e = true
			}
		}
		l.emergency[i], state[i] = e, 2
		return e
	}
	for i := range l.m.Roles {
		visit(i)
	}
	// Blocks: a g2 edge not loaded that leads to a deny rule gives that
	// deny, in Casbin, to every role that reaches its source.
	for i, r := range l.rows {
		if r.PType != "g2" || l.why[i] == "" || l.dup[i] || len(r.Values) < 2 {
			continue
		}
		if !l.denies(r.Values[1]) {
			continue
		}
		from := reverseReach(l.g2, r.Values[0])
		l.blockDenyHoldersAny(i, func(role string) bool { return from[role] })
	}
}

// blockDenyHoldersAny blocks, for row i, the subject of every deny line
// whose role satisfies keep, whatever that role reaches today.
func (l *loader) blockDenyHoldersAny(i int, keep func(role string) bool) {
	for _, d := range l.denyLines {
		v := l.rows[d].Values
		if keep(v[1]) {
			l.block(i, v[0])
		}
	}
}

// members reads the g lines: memberships.
func (l *loader) members() {
	for i, r := range l.rows {
		if r.PType != "g" || l.dup[i] {
			continue
		}
		v := r.Values
		if len(v) != 2 {
			l.quarantine(i, fmt.Sprintf("g line with %d values, want 2", len(v)))
			continue
		}
		member, group := rbac.Subject(v[0]), rbac.Subject(v[1])
		if err := member.Validate(); err != nil {
			l.quarantine(i, err.Error())
			continue
		}
		if err := group.Validate(); err != nil {
			l.quarantine(i, "group: "+err.Error())
			continue
		}
		if !member.IsPrincipal() {
			l.quarantine(i, "only users and service accounts join groups and units")
			continue
		}
		if group.IsPrincipal() {
			l.quarantine(i, "a user or service account cannot have members")
			continue
		}
		l.m.Members = append(l.m.Members, rbac.Membership{Member: member, Group: group})
	}
	// Blocks: Casbin gives the member of a g line whatever its target
	// holds, denies included.
	for i, r := range l.rows {
		if r.PType == "g" && l.why[i] != "" && !l.dup[i] && len(r.Values) > 0 {
			l.block(i, r.Values[0])
		}
	}
}

// grantKey is the part of a p line its two twins share.
type grantKey struct{ sub, role, scope, from, until string }

// grants reads the p lines: assignments, each stored as an allow line and
// its deny twin. The Store writes the twins one after the other, so most
// pair with the next row; the others are paired by their values.
func (l *loader) grants() {
	n := 0
	for i := range l.rows {
		if l.rows[i].PType == "p" {
			n++
		}
	}
	pairs := make([][2]int, 0, n/2+1) // allow row, deny row (-1 if missing)
	twins := map[grantKey][2]int{}    // allow row + 1, deny row + 1, for rows not paired with the next
	var loose []int
	twin := func(a, d *Row) bool {
		return d.PType == "p" && len(d.Values) == 6 && d.Values[5] == "deny" &&
			a.Values[0] == d.Values[0] && a.Values[1] == d.Values[1] && a.Values[2] == d.Values[2] &&
			a.Values[3] == d.Values[3] && a.Values[4] == d.Values[4]
	}
	for i := 0; i < len(l.rows); i++ {
		r := &l.rows[i]
		if r.PType != "p" {
			continue
		}
		v := r.Values
		if len(v) != 6 {
			l.quarantine(i, fmt.Sprintf("p line with %d values, want 6 (Casbin refuses every request over it)", len(v)))
			if len(v) > 0 {
				l.block(i, v[0])
			}
			continue
		}
		if v[5] == "allow" && i+1 < len(l.rows) && twin(r, &l.rows[i+1]) {
			pairs = append(pairs, [2]int{i, i + 1})
			i++
			continue
		}
		k := grantKey{v[0], v[1], v[2], v[3], v[4]}
		t := twins[k]
		switch {
		case v[5] == "allow" && t[0] == 0:
			t[0] = i + 1
		case v[5] == "deny" && t[1] == 0:
			t[1] = i + 1
		case v[5] == "allow" || v[5] == "deny":
			prev := t[0] - 1
			if v[5] == "deny" {
				prev = t[1] - 1
			}
			l.quarantine(i, fmt.Sprintf("duplicate of row %d", l.rows[prev].ID))
			if v[5] == "deny" && l.denies(v[1]) {
				l.block(i, v[0])
			}
			continue
		default:
			l.quarantine(i, fmt.Sprintf("effect %q, want allow or deny", v[5]))
			continue
		}
		twins[k] = t
		loose = append(loose, i)
	}
	for _, i := range loose {
		v := l.rows[i].Values
		t := twins[grantKey{v[0], v[1], v[2], v[3], v[4]}]
		if t[0] != 0 && t[0]-1 != i { // the deny twin of an allow line: paired there
			continue
		}
		pairs = append(pairs, [2]int{t[0] - 1, t[1] - 1})
	}
	l.m.Grants = make([]rbac.Grant, 0, len(pairs))
	l.grantRows = make([][2]int, 0, len(pairs))
	for _, pr := range pairs {
		a, d := pr[0], pr[1]
		v := l.rows[max(a, d)].Values
		g, why := l.grant(v)
		switch {
		case why != "":
		case a < 0:
			why = "deny line without its allow twin"
		case d < 0:
			why = "allow line without its deny twin"
		}
		if why != "" {
			l.quarantinePair(a, d, why)
			continue
		}
		l.grantRows = append(l.grantRows, [2]int{a, d})
		l.m.Grants = append(l.m.Grants, g)
	}
}

// quarantinePair quarantines the twins of one assignment (a or d is -1 if
// missing); the deny twin blocks its subject if its role reaches a deny.
func (l *loader) quarantinePair(a, d int, why string) {
	if a >= 0 {
		l.quarantine(a, why)
	}
	if d >= 0 {
		l.quarantine(d, why)
		v := l.rows[d].Values
		if l.denies(v[1]) {
			l.block(d, v[0])
		}
	}
}

// grant decodes the values of an assignment line, or says why not.
func (l *loader) grant(v []string) (rbac.Grant, string) {
	sub := rbac.Subject(v[0])
	if err := sub.Validate(); err != nil {
		return rbac.Grant{}, err.Error()
	}
	id, ok := strings.CutPrefix(v[1], rolePrefix)
	if !ok {
		return rbac.Grant{}, fmt.Sprintf("%q is not a role", v[1])
	}
	ri, ok := l.roleIdx[rbac.RoleID(id)]
	if !ok {
		return rbac.Grant{}, fmt.Sprintf("role %q has no lines", id)
	}
	scope := rbac.Scope(v[2])
	if err := scope.Validate(); err != nil {
		return rbac.Grant{}, err.Error()
	}
	from, err := parseBound(v[3], openFrom)
	if err != nil {
		return rbac.Grant{}, "valid_from: " + err.Error()
	}
	until, err := parseBound(v[4], openUntil)
	if err != nil {
		return rbac.Grant{}, "valid_until: " + err.Error()
	}
	g := rbac.Grant{Subject: sub, Role: rbac.RoleID(id), Scope: scope, NotBefore: from, NotAfter: until}
	if !from.IsZero() && !until.IsZero() && !until.After(from) {
		return rbac.Grant{}, "valid_until is not after valid_from"
	}
	if l.emergency[ri] && (from.IsZero() || until.IsZero() || until.Sub(from) > rbac.MaxEmergencyWindow) {
		return rbac.Grant{}, "an emergency role (or one that inherits one) is granted only for a window of at most 24h with both ends set"
	}
	return g, ""
}

// declareConflictRoles declares, empty, every role a conflict rule names
// that has no lines (its rows were removed or not loaded), so that the rule
// still loads; an empty role grants nothing, as in Casbin.
func (l *loader) declareConflictRoles() {
	for _, r := range l.m.Conflicts {
		if !r.IsRoleRule() {
			continue
		}
		for _, id := range r.Roles {
			if _, ok := l.roleIdx[id]; !ok && id.Validate() == nil {
				l.roleIdx[id] = len(l.m.Roles)
				l.m.Roles = append(l.m.Roles, rbac.Role{ID: id})
			}
		}
	}
	slices.SortFunc(l.m.Roles, func(a, b rbac.Role) int { return strings.Compare(string(a.ID), string(b.ID)) })
}

// compile compiles the model, leaving out, one at a time, any grant that
// it still refuses (a rule this loader does not check itself), and
// records the quarantine.
func (l *loader) compile() (*rbac.Policy, error) {
	l.m.Quarantine = l.quarantined()
	p, err := rbac.Compile(l.m)
	if err == nil {
		return p, nil
	}
	// A grant stored twice (two assignments of one role to one subject at
	// one scope, with different windows): the later is left out.
	seen := make(map[rbac.GrantKey]bool, len(l.m.Grants))
	grants, rows := l.m.Grants[:0:0], l.grantRows[:0:0]
	for i, g := range l.m.Grants {
		if seen[g.Key()] {
			l.quarantinePair(l.grantRows[i][0], l.grantRows[i][1], fmt.Sprintf("grant %s stored twice", g.Key()))
			continue
		}
		seen[g.Key()] = true
		grants, rows = append(grants, g), append(rows, l.grantRows[i])
	}
	if len(grants) < len(l.m.Grants) {
		l.m.Grants, l.grantRows = grants, rows
		l.m.Quarantine = l.quarantined()
		if p, err = rbac.Compile(l.m); err == nil {
			return p, nil
		}
	}
	base := l.m
	base.Grants = nil
	if _, err2 := rbac.Compile(base); err2 != nil {
		return nil, err // not a grant: nothing to leave out
	}
	good := 0 // l.m.Grants[:good] compile
	for {
		// Find the shortest failing prefix beyond good.
		lo, hi := good, len(l.m.Grants) // Grants[:lo] compile, Grants[:hi] do not
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			try := l.m
			try.Grants = l.m.Grants[:mid]
			if _, err := rbac.Compile(try); err != nil {
				hi = mid
			} else {
				lo = mid
			}
		}
		bad := hi - 1
		try := l.m
		try.Grants = l.m.Grants[:hi]
		why := "refused by rbac.Compile"
		if _, err := rbac.Compile(try); err != nil {
			why = err.Error()
		}
		rows := l.grantRows[bad]
		l.quarantinePair(rows[0], rows[1], why)
		l.m.Grants = slices.Delete(slices.Clone(l.m.Grants), bad, bad+1)
		l.grantRows = slices.Delete(l.grantRows, bad, bad+1)
		good = bad
		l.m.Quarantine = l.quarantined()
		if p, err = rbac.Compile(l.m); err == nil {
			return p, nil
		}
	}
}

// quarantined returns the rows not loaded, in id order.
func (l *loader) quarantined() []rbac.QuarantinedRow {
	var out []rbac.QuarantinedRow
	idx := make([]int, 0, len(l.why))
	for i := range l.why {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		why := l.why[i]
		r := l.rows[i]
		out = append(out, rbac.QuarantinedRow{ID: r.ID, PType: r.PType, Values: slices.Clone(r.Values), Reason: why, Blocks: slices.Clone(l.blocks[i])})
	}
	return out
}
