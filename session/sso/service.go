package sso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/audit"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/signin"
)

// Event is the module's domain event (iam re-exports it), so iam's audit
// sinks satisfy [EventSink].
type Event = iam.Event

// EventSink receives the service's events: sso.signed_in, sso.refused,
// sso.linked, user.provisioned, sso.mapping.applied, sso.mapping.refused,
// sso.groups.unknown. Record is called on the request path; an error is
// ignored, because what it reports has happened.
type EventSink interface {
	Record(ctx context.Context, e Event) error
}

// Sessions starts a session; *session.Manager implements it.
type Sessions interface {
	Create(ctx context.Context, st session.Start) (session.Session, string, error)
}

// Assigner writes the grants and memberships that mappings produce, in one
// change, enforcing segregation of duties; *iam.Admin implements it (and
// emits the role.assigned and role.revoked events). Its error is surfaced (wrapped in
// [ErrMapping]) and the sign-in fails.
type Assigner interface {
	Apply(ctx context.Context, c rbac.Change) (int64, error)
}

// GrantReader lists the grants made directly to sub (not through groups)
// and the groups sub belongs to directly, as the policy store holds them.
// With one, mappings add only what is missing and take back only what is
// still there, even after an administrator's edits; without one, the
// service trusts its record of what it applied last time.
type GrantReader func(ctx context.Context, sub rbac.Subject) (grants []rbac.GrantKey, groups []rbac.Subject, err error)

// An Option configures a [Service].
type Option func(*Service)

// WithAssigner applies mappings through a. Without one, a provider with
// mappings is a configuration error.
func WithAssigner(a Assigner) Option { return func(s *Service) { s.assigner = a } }

// WithGrantReader reads current grants before mappings are applied.
func WithGrantReader(r GrantReader) Option { return func(s *Service) { s.reader = r } }

// WithEvents sends events to e.
func WithEvents(e EventSink) Option { return func(s *Service) { s.sink = e } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// Service links external identities to users, provisions users just in
// time, applies claim mappings and starts sessions. It is what the OIDC
// relying party and the SAML service provider call after they have checked
// a message. Safe for concurrent use.
type Service struct {
	users     signin.Users
	links     Links
	sessions  Sessions
	providers map[string]Provider
	assigner  Assigner
	reader    GrantReader
	sink      EventSink
	now       func() time.Time
	locks     keyLocks
}

// keyLocks are mutexes by key, kept only while in use.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	users int
}

// lock locks key and returns its unlock.
func (k *keyLocks) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// New returns a Service over users (signin's user records), links and
// sessions, for the given providers.
func New(users signin.Users, links Links, sessions Sessions, providers []Provider, opts ...Option) (*Service, error) {
	if users == nil || links == nil || sessions == nil {
		return nil, fmt.Errorf("%w: users, links and sessions are required", ErrInvalidConfig)
	}
	s := &Service{users: users, links: links, sessions: sessions, providers: map[string]Provider{}, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	for _, p := range providers {
		if err := p.check(); err != nil {
			return nil, err
		}
		if _, dup := s.providers[p.Name]; dup {
			return nil, fmt.Errorf("%w: provider %s configured twice", ErrInvalidConfig, p.Name)
		}
		if len(p.Mappings) > 0 && s.assigner == nil {
			return nil, fmt.Errorf("%w: provider %s has mappings but no Assigner", ErrInvalidConfig, p.Name)
		}
		s.providers[p.Name] = p
	}
	return s, nil
}

// Result is a successful SSO sign-in.
type Result struct {
	User    signin.User
	Session session.Session
	// Token is the session token for the cookie or Authorization header.
	Token string
	// Provisioned: the user was created by this sign-in. Linked: the
	// identity was linked to the user by this sign-in.
	Provisioned, Linked bool
	// Granted, Revoked, Joined and Left are what the mappings changed.
	Granted, Revoked []rbac.GrantKey
	Joined, Left     []rbac.Subject
	// GroupsUnknown: group mappings were not applied (group overage with
	// no resolver).
	GroupsUnknown bool
}

// SignIn finds or creates the user of id, applies the provider's mappings
// and starts a session recording the method and whether the provider
// asserted MFA. Any refusal wraps one of the package's sentinels, emits
// sso.refused, and creates no user, link or session.
func (s *Service) SignIn(ctx context.Context, id Identity, client session.Client) (Result, error) {
	// Sign-ins of one identity run one at a time in this process, so two
	// browsers finishing a first sign-in together do not both provision.
	unlock := s.locks.lock(id.Provider + "\x00" + id.Key)
	res, err := s.signIn(ctx, id, client)
	if errors.Is(err, ErrAccountConflict) {
		// Another process linked this identity meanwhile: sign in through
		// its link (which also restores mappings a losing attempt took
		// back).
		if _, lerr := s.links.Link(ctx, id.Provider, id.Key); lerr == nil {
			res, err = s.signIn(ctx, id, client)
		}
	}
	unlock()
	if err != nil {
		s.Refused(ctx, id.Provider, err)
		return Result{}, err
	}
	return res, nil
}

func (s *Service) signIn(ctx context.Context, id Identity, client session.Client) (Result, error) {
	p, ok := s.providers[id.Provider]
	if !ok {
		return Result{}, fmt.Errorf("%w: %.64q", ErrUnknownProvider, id.Provider)
	}
	id, err := id.check()
	if err != nil {
		return Result{}, err
	}
	var res Result
	link, err := s.links.Link(ctx, p.Name, id.Key)
	switch {
	case err == nil:
		u, err := s.users.User(ctx, link.UserID)
		if errors.Is(err, signin.ErrNotFound) {
			// The linked user was removed: the link signs nobody in.
			return Result{}, fmt.Errorf("%w: the linked user no longer exists", ErrNoAccount)
		} else if err != nil {
			return Result{}, s.storeErr("user", err)
		}
		res.User = u
	case errors.Is(err, ErrNotFound):
		link = Link{Provider: p.Name, Key: id.Key, Created: s.now()}
		if res.User, res.Provisioned, err = s.resolve(ctx, p, id); err != nil {
			return Result{}, err
		}
		link.UserID = res.User.ID
		res.Linked = true
	default:
		return Result{}, s.storeErr("link", err)
	}
	if res.User.Status != signin.StatusActive && res.User.Status != "" {
		return Result{}, fmt.Errorf("%w: %s", ErrInactive, res.User.Status)
	}
	if err := s.mapAndCommit(ctx, p, id, link, &res); err != nil {
		return Result{}, err
	}
	mfa := session.MFANotRequired
	if id.MFA {
		mfa = session.MFADone
	}
	res.Session, res.Token, err = s.sessions.Create(ctx, session.Start{Subject: res.User.Subject(), Method: id.Method, MFA: mfa, Client: client})
	if err != nil {
		return Result{}, fmt.Errorf("%w: session: %w", ErrUnavailable, err)
	}
	s.emit(ctx, "sso.signed_in", rbac.Subject(res.User.Subject()), map[string]string{
		"provider": p.Name, "method": id.Method.String(), "mfa": fmt.Sprint(id.MFA),
		"acr": id.ACR, "amr": strings.Join(id.AMR, " "), "session": res.Session.ID,
		"provisioned": fmt.Sprint(res.Provisioned), "linked": fmt.Sprint(res.Linked),
	})
	return res, nil
}

// resolve finds the user of an identity that has no link: by verified
// email in an authoritative domain, or by creating one (not yet stored).
func (s *Service) resolve(ctx context.Context, p Provider, id Identity) (signin.User, bool, error) {
	if id.Email != "" && id.EmailVerified && inDomains(id.Email, p.EmailDomains) {
		u, err := s.users.UserByEmail(ctx, id.Email)
		if err == nil {
			return u, false, nil
		}
		if !errors.Is(err, signin.ErrNotFound) {
			return signin.User{}, false, s.storeErr("user", err)
		}
	}
	if p.JIT == nil {
		return signin.User{}, false, ErrNoAccount
	}
	j := p.JIT
	if len(j.Tenants) > 0 && !slices.Contains(j.Tenants, id.Tenant) {
		return signin.User{}, false, fmt.Errorf("%w: tenant", ErrNotAllowed)
	}
	if id.Email == "" || !id.EmailVerified || !inDomains(id.Email, j.Domains) {
		return signin.User{}, false, fmt.Errorf("%w: email domain or verification", ErrNotAllowed)
	}
	u := signin.User{ID: userID(p.Name, id), Email: id.Email, DisplayName: id.Name, Department: j.Department}
	if p.DepartmentAttribute != "" {
		if d := id.Attribute(p.DepartmentAttribute); d != "" {
			u.Department = d
		}
	}
	u, err := u.Normalize()
	if err != nil {
		return signin.User{}, false, fmt.Errorf("%w: %w", ErrInvalidClaim, err)
	}
	return u, true, nil
}

// userID is the id of a provisioned user: the email when it is a valid id
// (lower-case letters, digits, . _ - @), else a hash of the identity.
func userID(provider string, id Identity) string {
	e := id.Email
	ok := len(e) <= 100 && e != "" && (e[0] >= 'a' && e[0] <= 'z' || e[0] >= '0' && e[0] <= '9')
	for i := 0; ok && i < len(e); i++ {
		c := e[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@'
	}
	if ok {
		return e
	}
	h := sha256.Sum256([]byte(provider + "\x00" + id.Key))
	return "sso-" + hex.EncodeToString(h[:10])
}

// desired computes the grants and memberships the mappings give id.
// unknown lists what group mappings could have given (kept as is when the
// groups are unknown).
func desired(p Provider, id Identity, u signin.User) (grants []rbac.GrantKey, groups []rbac.Subject, keep func(rbac.GrantKey) bool, keepGroup func(rbac.Subject) bool) {
	sub := rbac.Subject(u.Subject())
	dept := u.Department
	if p.DepartmentAttribute != "" {
		if d := id.Attribute(p.DepartmentAttribute); d != "" {
			dept = d
		}
	}
	scopeOf := func(m Mapping) (rbac.Scope, bool) {
		if m.Scope != UserDepartment {
			return m.Scope, true
		}
		sc := rbac.Scope("dept:" + dept)
		return sc, dept != "" && sc.Validate() == nil
	}
	var unknownGrants []rbac.GrantKey
	var unknownGroups []rbac.Subject
	for _, m := range p.Mappings {
		var gk rbac.GrantKey
		okScope := false
		if m.Role != "" {
			var sc rbac.Scope
			sc, okScope = scopeOf(m)
			gk = rbac.GrantKey{Subject: sub, Role: m.Role, Scope: sc}
		}
		if id.GroupsUnknown && m.dependsOnGroups() {
			if okScope {
				unknownGrants = append(unknownGrants, gk)
			}
			if m.Member != "" {
				unknownGroups = append(unknownGroups, m.Member)
			}
			continue
		}
		if !m.matches(id) {
			continue
		}
		if okScope && !slices.Contains(grants, gk) {
			grants = append(grants, gk)
		}
		if m.Member != "" && !slices.Contains(groups, m.Member) {
			groups = append(groups, m.Member)
		}
	}
	keep = func(k rbac.GrantKey) bool { return slices.Contains(unknownGrants, k) }
	keepGroup = func(g rbac.Subject) bool { return slices.Contains(unknownGroups, g) }
	return grants, groups, keep, keepGroup
}

// mapAndCommit applies the mappings, then stores a new user and link, so
// that a refused mapping leaves nothing behind; if storing fails after the
// mappings were applied, it takes them back.
func (s *Service) mapAndCommit(ctx context.Context, p Provider, id Identity, link Link, res *Result) error {
	sub := rbac.Subject(res.User.Subject())
	wantG, wantM, keep, keepM := desired(p, id, res.User)
	res.GroupsUnknown = id.GroupsUnknown
	if id.GroupsUnknown {
		s.emit(ctx, "sso.groups.unknown", sub, map[string]string{"provider": p.Name})
	}
	haveG, haveM := link.Grants, link.Groups
	if s.reader != nil && s.assigner != nil {
		var err error
		if haveG, haveM, err = s.reader(ctx, sub); err != nil {
			return fmt.Errorf("%w: read grants: %w", ErrUnavailable, err)
		}
	}
	var c rbac.Change
	c.At = s.now()
	for _, g := range wantG {
		if !slices.Contains(haveG, g) {
			c.Grant = append(c.Grant, rbac.Grant{Subject: g.Subject, Role: g.Role, Scope: g.Scope, Reason: "sso mapping: " + p.Name})
			res.Granted = append(res.Granted, g)
		}
	}
	for _, g := range link.Grants { // only what this provider applied
		if !slices.Contains(wantG, g) && !keep(g) && slices.Contains(haveG, g) {
			c.Revoke = append(c.Revoke, g)
			res.Revoked = append(res.Revoked, g)
		}
	}
	for _, m := range wantM {
		if !slices.Contains(haveM, m) {
			c.Join = append(c.Join, rbac.Membership{Member: sub, Group: m})
			res.Joined = append(res.Joined, m)
		}
	}
	for _, m := range link.Groups {
		if !slices.Contains(wantM, m) && !keepM(m) && slices.Contains(haveM, m) {
			c.Leave = append(c.Leave, rbac.Membership{Member: sub, Group: m})
			res.Left = append(res.Left, m)
		}
	}
	applied := !c.IsZero()
	if applied {
		if _, err := s.assigner.Apply(ctx, c); err != nil {
			s.emit(ctx, "sso.mapping.refused", sub, mappingRefusal(p.Name, err))
			if errors.Is(err, rbac.ErrConflict) || errors.Is(err, rbac.ErrInvalidInput) || errors.Is(err, rbac.ErrNotFound) {
				return fmt.Errorf("%w: %w", ErrMapping, err)
			}
			return fmt.Errorf("%w: apply mappings: %w", ErrUnavailable, err)
		}
	}
	// Record what this provider applied: the wanted set plus what unknown
	// groups kept.
	recG := slices.Clone(wantG)
	for _, g := range link.Grants {
		if keep(g) && !slices.Contains(recG, g) {
			recG = append(recG, g)
		}
	}
	recM := slices.Clone(wantM)
	for _, m := range link.Groups {
		if keepM(m) && !slices.Contains(recM, m) {
			recM = append(recM, m)
		}
	}
	if err := s.commit(ctx, link, recG, recM, res); err != nil {
		if applied {
			s.undo(ctx, c)
		}
		return err
	}
	if applied {
		s.emit(ctx, "sso.mapping.applied", sub, map[string]string{
			"provider": p.Name, "granted": keys(res.Granted), "revoked": keys(res.Revoked),
			"joined": subjects(res.Joined), "left": subjects(res.Left),
		})
	}
	return nil
}

// commit stores the provisioned user and the new link, then the record of
// what was mapped.
func (s *Service) commit(ctx context.Context, link Link, grants []rbac.GrantKey, groups []rbac.Subject, res *Result) error {
	if res.Provisioned {
		if err := s.users.CreateUser(ctx, res.User); err != nil {
			if errors.Is(err, signin.ErrExists) {
				return fmt.Errorf("%w: the id or email is taken", ErrAccountConflict)
			}
			return s.storeErr("create user", err)
		}
		s.emit(ctx, "user.provisioned", rbac.Subject(res.User.Subject()), map[string]string{"provider": link.Provider, "department": res.User.Department})
	}
	if res.Linked {
		link.Grants, link.Groups = grants, groups
		if err := s.links.CreateLink(ctx, link); err != nil {
			if errors.Is(err, ErrExists) {
				return fmt.Errorf("%w: the identity was linked concurrently", ErrAccountConflict)
			}
			return s.storeErr("create link", err)
		}
		s.emit(ctx, "sso.linked", rbac.Subject(res.User.Subject()), map[string]string{"provider": link.Provider})
		return nil
	}
	if err := s.links.SetMapped(ctx, link.Provider, link.Key, grants, groups); err != nil {
		return s.storeErr("record mappings", err)
	}
	return nil
}

// undo takes back a change whose sign-in failed afterwards (best effort:
// the failure is already being reported).
func (s *Service) undo(ctx context.Context, c rbac.Change) {
	var back rbac.Change
	back.At = s.now()
	for _, g := range c.Grant {
		back.Revoke = append(back.Revoke, g.Key())
	}
	for _, m := range c.Join {
		back.Leave = append(back.Leave, m)
	}
	if !back.IsZero() {
		_, _ = s.assigner.Apply(context.WithoutCancel(ctx), back)
	}
}

// mappingRefusal is the detail of sso.mapping.refused: the provider, why
// in one word (conflict, invalid, not_found or unavailable) and, for a
// conflict, the rule. It holds domain facts only, never the wrapped error
// text, which names the store and differs between stores.
func mappingRefusal(provider string, err error) map[string]string {
	d := map[string]string{"provider": provider}
	var ce *rbac.ConflictError
	switch {
	case errors.As(err, &ce):
		d["reason"], d["rule"] = "conflict", ce.Rule
	case errors.Is(err, rbac.ErrConflict):
		d["reason"] = "conflict"
	case errors.Is(err, rbac.ErrInvalidInput):
		d["reason"] = "invalid"
	case errors.Is(err, rbac.ErrNotFound):
		d["reason"] = "not_found"
	default:
		d["reason"] = "unavailable"
	}
	return d
}

func (s *Service) storeErr(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

// Refused emits sso.refused for a failed sign-in at provider, with the
// reason (the error's text: sentinel and detail, never a token or a
// message). The protocol packages call it for every refusal.
func (s *Service) Refused(ctx context.Context, provider string, err error) {
	if !visibleASCII(provider, 64) {
		provider = "?"
	}
	s.emit(ctx, "sso.refused", "", map[string]string{"provider": provider, "reason": err.Error()})
}

func (s *Service) emit(ctx context.Context, typ string, sub rbac.Subject, detail map[string]string) {
	if s.sink == nil {
		return
	}
	_ = s.sink.Record(ctx, Event{Version: iam.EventSchemaVersion, ID: audit.NewID(), Type: typ, Time: s.now(), Subject: sub, Actor: sub, Detail: detail})
}

func keys(ks []rbac.GrantKey) string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k.Role) + "@" + string(k.Scope)
	}
	return strings.Join(out, " ")
}

func subjects(ss []rbac.Subject) string {
	out := make([]string, len(ss))
	for i, x := range ss {
		out[i] = string(x)
	}
	return strings.Join(out, " ")
}
