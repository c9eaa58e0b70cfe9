package onboard

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/audit"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/signin"
)

// Event types onboarding emits, besides the role.assigned and role.revoked
// events the policy writer emits for the change itself.
const (
	EventUserProvisioned = "user.provisioned"
	EventUserMoved       = "user.moved"
	EventUserUpdated     = "user.updated"
	EventUserOffboarded  = "user.offboarded"
	EventWelcomeSent     = "user.welcome_sent"
	EventWelcomeFailed   = "user.welcome_failed"
	// EventAccountOwnerLeft flags a service account whose owner was
	// offboarded: it needs a new owner.
	EventAccountOwnerLeft = "service_account.owner_left"
)

// ReasonPrefix starts the reason of every grant onboarding makes:
// "hr:<employee id> position <title>". Onboarding treats the direct grants
// of a user whose reason starts with "hr:<their employee id> " as the
// grants of their position, and replaces exactly those when the person
// moves; grants made otherwise are left alone (offboarding removes all).
const ReasonPrefix = "hr:"

// Event is a domain event (the same type as iam.Event).
type Event = iam.Event

// PolicySource reads the current policy: a store (sqlitestore, pgstore,
// memstore) is one.
type PolicySource interface {
	LoadPolicy(ctx context.Context) (rbac.Model, int64, error)
}

// PolicyWriter writes one change in one transaction, checking
// segregation-of-duties rules in it, and emits the change's events:
// an *iam.Admin is one.
type PolicyWriter interface {
	Apply(ctx context.Context, c rbac.Change) (int64, error)
}

// Sessions ends every session of a subject in every process: a
// *session.Manager sharing an EpochStore is one.
type Sessions interface {
	LogoutEverywhere(ctx context.Context, subject string) (int, error)
}

// Keys is what offboarding needs of API-key management: an
// *apikey.Manager is one.
type Keys interface {
	Accounts(ctx context.Context) ([]apikey.Account, error)
	Keys(ctx context.Context, account string) ([]apikey.Key, error)
	Revoke(ctx context.Context, id, reason string) error
	DisableAccount(ctx context.Context, id, reason string) error
}

// EventSink receives onboarding's events; an iam.AuditSink is one. A
// sink's error is logged, not returned: the change has been made.
type EventSink interface {
	Record(ctx context.Context, e Event) error
}

// Service turns HR records into accounts and roles: joiners, movers and
// leavers. It is safe for concurrent use; two calls for the same employee
// at once are decided by the policy store (a change built on a grant that
// moved meanwhile is refused with rbac.ErrChanged and retried once).
type Service struct {
	users     signin.Users
	src       PolicySource
	w         PolicyWriter
	positions *Positions
	tmpl      *templates.Set
	mailer    Mailer
	org       string
	sso       string
	act       *Activator
	sessions  Sessions
	keys      Keys
	sink      EventSink
	now       func() time.Time
	loc       *time.Location
	log       *slog.Logger
	// locks serialise the calls for one employee in this process (by a
	// hash of the employee id); across processes the stores' uniqueness
	// and the change preconditions decide.
	locks [64]sync.Mutex
}

// lock locks the calls for employee and returns the unlock.
func (s *Service) lock(employee string) func() {
	h := fnv.New32a()
	h.Write([]byte(UserID(employee)))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// Option configures a Service.
type Option func(*Service)

// WithPositions sets the position → role mapping (default
// [DefaultPositions]).
func WithPositions(p *Positions) Option { return func(s *Service) { s.positions = p } }

// WithTemplates sets the templates from which a mapped role missing from
// the policy is created, in the same change as the grant (default: the
// shipped templates). A role the policy already has is never replaced.
func WithTemplates(t *templates.Set) Option { return func(s *Service) { s.tmpl = t } }

// WithMailer sends welcome messages through m. Without one, no message is
// sent and [Result.Welcome] is nil.
func WithMailer(m Mailer) Option { return func(s *Service) { s.mailer = m } }

// WithOrganisation names the employer in welcome messages (default "the
// City").
func WithOrganisation(name string) Option { return func(s *Service) { s.org = name } }

// WithSSO tells new employees to sign in with single sign-on at url (an
// absolute http(s) URL).
func WithSSO(url string) Option { return func(s *Service) { s.sso = url } }

// WithActivation puts a one-time activation link in welcome messages, for
// cities that use local sign-in.
func WithActivation(a *Activator) Option { return func(s *Service) { s.act = a } }

// WithSessions lets Offboard end every session of the leaver.
func WithSessions(m Sessions) Option { return func(s *Service) { s.sessions = m } }

// WithKeys lets Offboard revoke the leaver's personal API keys and flag
// the service accounts they own.
func WithKeys(k Keys) Option { return func(s *Service) { s.keys = k } }

// WithEvents sets the event sink (default: none).
func WithEvents(e EventSink) Option { return func(s *Service) { s.sink = e } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithLocation sets the time zone in which start dates begin at midnight
// (default time.Local).
func WithLocation(l *time.Location) Option { return func(s *Service) { s.loc = l } }

// WithLogger sets the logger for sink failures (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// New returns a Service that keeps users in users, reads the policy from
// src and writes it through w.
func New(users signin.Users, src PolicySource, w PolicyWriter, opts ...Option) (*Service, error) {
	if users == nil || src == nil || w == nil {
		return nil, fmt.Errorf("%w: New needs a user store, a policy source and a policy writer", ErrInvalidInput)
	}
	s := &Service{users: users, src: src, w: w, org: "the City", now: time.Now, loc: time.Local, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	var err error
	if s.positions == nil {
		if s.positions, err = DefaultPositions(); err != nil {
			return nil, err
		}
	}
	if s.tmpl == nil {
		if s.tmpl, err = templates.Default(); err != nil {
			return nil, err
		}
	}
	if s.sso != "" {
		if err := checkURL(s.sso); err != nil {
			return nil, err
		}
	}
	if _, why := cleanText(s.org, MaxName, true); why != "" {
		return nil, fmt.Errorf("%w: organisation name: %s", ErrInvalidInput, why)
	}
	if s.mailer != nil && s.sso == "" && s.act == nil {
		return nil, fmt.Errorf("%w: welcome messages need WithSSO or WithActivation to say how to sign in", ErrInvalidInput)
	}
	return s, nil
}

// Kind says what a record did.
type Kind string

// The kinds of outcome.
const (
	Joiner    Kind = "joiner"    // a new user with the position's roles
	Mover     Kind = "mover"     // position or department changed: roles replaced
	Updated   Kind = "updated"   // name or language changed; roles unchanged
	Unchanged Kind = "unchanged" // nothing to do
)

// Result is what [Service.Onboard] did.
type Result struct {
	Kind Kind
	User signin.User
	// Assigned and Revoked are the position grants written and removed.
	Assigned []rbac.Grant
	Revoked  []rbac.Grant
	// Revision is the policy revision of the change (0 if none was made).
	Revision int64
	// Welcome is the message sent to a joiner (nil if none was sent).
	Welcome *Message
}

// step is one record's planned effect.
type step struct {
	rec      Record
	kind     Kind
	user     signin.User // the user as it will be
	existing bool
	grant    []rbac.Grant
	revoke   []rbac.Grant
	putRoles []rbac.Role
	fromDept string
	fromPos  string
}

func (st step) change() rbac.Change {
	var c rbac.Change
	for _, g := range st.revoke {
		c.ExpectGrants = append(c.ExpectGrants, g)
		c.Revoke = append(c.Revoke, g.Key())
	}
	c.Grant = slices.Clone(st.grant)
	c.PutRoles = slices.Clone(st.putRoles)
	return c
}

// reason is the reason written on a position grant.
func reason(rec Record) string {
	return ReasonPrefix + rec.EmployeeID + " position " + rec.Position
}

// hrGrants returns sub's direct grants made by onboarding for employee.
func hrGrants(m rbac.Model, sub rbac.Subject, employee string) []rbac.Grant {
	var out []rbac.Grant
	for _, g := range m.Grants {
		if g.Subject == sub && strings.HasPrefix(g.Reason, ReasonPrefix+employee+" ") {
			out = append(out, g)
		}
	}
	return out
}

// positionOf reads the position title back from a grant reason.
func positionOf(g rbac.Grant) string {
	_, pos, _ := strings.Cut(g.Reason, " position ")
	return pos
}

// Onboard makes the HR record true: it creates the user and grants the
// roles of the position at dept:<department> from the start date
// (joiner), replaces the position grants when the position or department
// changed (mover, one change), updates the name or language, or does
// nothing when everything already matches. The grants are one policy
// change, checked against the segregation-of-duties rules in the store's
// transaction; before anything is written the change is also checked
// against the current policy, so a refused record creates nothing. The
// roles are written before a new account is created, so no account exists
// without them. A suspended user stays suspended; an offboarded one is
// rehired (a joiner again). A joiner is sent a welcome message in their
// language.
//
// Errors: [ErrInvalidInput] (a [*RecordError]), [ErrUnknownPosition],
// [ErrUnknownDepartment], [ErrIdentityConflict], [ErrConflict] (an
// *rbac.ConflictError naming the rule); [ErrMail] with a valid Result
// when only the welcome message failed.
func (s *Service) Onboard(ctx context.Context, rec Record) (Result, error) {
	defer s.lock(rec.EmployeeID)()
	for attempt := 0; ; attempt++ {
		res, err := s.onboard(ctx, rec)
		if attempt == 0 && (errors.Is(err, rbac.ErrChanged) || errors.Is(err, rbac.ErrExists) || errors.Is(err, signin.ErrExists)) {
			continue // another process moved first: decide again
		}
		return res, err
	}
}

func (s *Service) onboard(ctx context.Context, rec Record) (Result, error) {
	m, _, err := s.src.LoadPolicy(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("onboard: read policy: %w", err)
	}
	st, err := s.plan(ctx, m, rec, 0)
	if err != nil {
		return Result{}, err
	}
	if st.kind == Unchanged {
		return Result{Kind: Unchanged, User: st.user}, nil
	}
	c := st.change()
	if !c.IsZero() {
		// Refuse before anything is written: the store checks again in
		// its transaction.
		c.At = s.now()
		if _, _, err := rbac.Update(m, c); err != nil {
			return Result{}, fmt.Errorf("onboard: employee %q: %w", rec.EmployeeID, err)
		}
		c.At = time.Time{}
	}
	return s.commit(ctx, st, c)
}

// commit writes a planned step: the policy change first, then the user
// record. A new account therefore never exists without its roles; if the
// account cannot be created after the roles were written (its email was
// taken in the meantime), the roles are revoked again.
func (s *Service) commit(ctx context.Context, st step, c rbac.Change) (Result, error) {
	res := Result{Kind: st.kind, User: st.user, Assigned: st.grant, Revoked: st.revoke}
	if !c.IsZero() {
		rev, err := s.w.Apply(ctx, c)
		if err != nil {
			return Result{}, fmt.Errorf("onboard: employee %q: %w", st.rec.EmployeeID, err)
		}
		res.Revision = rev
	}
	var err error
	if st.existing {
		err = s.users.UpdateUser(ctx, st.user)
	} else {
		err = s.users.CreateUser(ctx, st.user)
	}
	if err != nil {
		if !st.existing && len(st.grant) > 0 {
			undo := rbac.Change{ExpectGrants: st.grant}
			for _, g := range st.grant {
				undo.Revoke = append(undo.Revoke, g.Key())
			}
			if _, uerr := s.w.Apply(ctx, undo); uerr != nil {
				err = errors.Join(err, fmt.Errorf("revoke the grants again: %w", uerr))
			}
		}
		return Result{}, s.userErr(st.rec, err)
	}
	if u, err := s.users.User(ctx, st.user.ID); err == nil {
		res.User = u
	}
	s.announce(ctx, st, res)
	if st.kind == Joiner {
		msg, err := s.welcome(ctx, st.rec, res.User)
		if err != nil {
			return res, err
		}
		res.Welcome = msg
	}
	return res, nil
}

func (s *Service) userErr(rec Record, err error) error {
	if errors.Is(err, signin.ErrExists) {
		return fmt.Errorf("%w: employee %q: %w", ErrIdentityConflict, rec.EmployeeID, err)
	}
	return fmt.Errorf("onboard: employee %q: %w", rec.EmployeeID, err)
}

// plan decides what rec needs against model m, without writing anything.
// line (0 for none) is put in record errors.
func (s *Service) plan(ctx context.Context, m rbac.Model, rec Record, line int) (step, error) {
	rec, err := rec.Normalize()
	if err != nil {
		var re *RecordError
		if errors.As(err, &re) {
			re.Line = line
		}
		return step{}, err
	}
	roles, ok := s.positions.Roles(rec.Position)
	if !ok {
		return step{}, &PositionError{Line: line, Position: rec.Position}
	}
	scope := rbac.Scope("dept:" + rec.Department)
	if !slices.ContainsFunc(m.Scopes, func(n rbac.ScopeNode) bool { return n.Scope == scope }) {
		return step{}, &DepartmentError{Line: line, Department: rec.Department}
	}
	st := step{rec: rec}
	for _, id := range roles {
		i := slices.IndexFunc(m.Roles, func(r rbac.Role) bool { return r.ID == id })
		var r rbac.Role
		if i >= 0 {
			r = m.Roles[i]
		} else {
			t, ok := s.tmpl.Template(id)
			if !ok {
				return step{}, fmt.Errorf("onboard: position %q maps to role %q, which neither the policy nor the templates have: %w", rec.Position, id, ErrUnknownPosition)
			}
			if r, err = s.tmpl.Instantiate(t.ID, id); err != nil {
				return step{}, fmt.Errorf("onboard: position %q: %w", rec.Position, err)
			}
			st.putRoles = append(st.putRoles, r)
		}
		if r.Emergency {
			return step{}, fmt.Errorf("%w: position %q maps to emergency role %q, which is granted only for a window", ErrUnknownPosition, rec.Position, id)
		}
	}

	uid := UserID(rec.EmployeeID)
	sub := rbac.Subject("user:" + uid)
	cur, err := s.users.User(ctx, uid)
	switch {
	case errors.Is(err, signin.ErrNotFound):
		if other, err := s.users.UserByEmail(ctx, rec.Email); err == nil {
			return step{}, fmt.Errorf("%w: line %d: email %s belongs to employee %q", ErrIdentityConflict, line, rec.Email, other.EmployeeID)
		} else if !errors.Is(err, signin.ErrNotFound) {
			return step{}, fmt.Errorf("onboard: read user: %w", err)
		}
		st.kind = Joiner
	case err != nil:
		return step{}, fmt.Errorf("onboard: read user: %w", err)
	default:
		st.existing = true
		if cur.EmployeeID != rec.EmployeeID {
			return step{}, fmt.Errorf("%w: line %d: user %q belongs to employee %q, not %q", ErrIdentityConflict, line, uid, cur.EmployeeID, rec.EmployeeID)
		}
		if cur.Email != rec.Email {
			return step{}, fmt.Errorf("%w: line %d: employee %q is %s, not %s", ErrIdentityConflict, line, rec.EmployeeID, cur.Email, rec.Email)
		}
	}
	st.user = signin.User{ID: uid, EmployeeID: rec.EmployeeID, Email: rec.Email, DisplayName: rec.DisplayName(),
		Language: rec.Language, Department: rec.Department, Status: signin.StatusActive}
	if st.existing {
		st.user.Created = cur.Created
		if cur.Status != signin.StatusOffboarded {
			// A suspension is someone's decision; HR data does not undo it.
			st.user.Status = cur.Status
		}
	}
	if _, err := st.user.Normalize(); err != nil {
		return step{}, &RecordError{Line: line, EmployeeID: rec.EmployeeID, Field: "record", Reason: err.Error()}
	}

	// The position's grants as they should be, against those onboarding
	// made before.
	now := s.now()
	var from time.Time
	if !rec.StartDate.IsZero() {
		y, mo, d := rec.StartDate.Date()
		if start := time.Date(y, mo, d, 0, 0, 0, 0, s.loc); start.After(now) {
			from = start
		}
	}
	have := hrGrants(m, sub, rec.EmployeeID)
	if st.existing && cur.Status == signin.StatusOffboarded {
		st.kind = Joiner // a rehire
	}
	for _, id := range roles {
		g := rbac.Grant{Subject: sub, Role: id, Scope: scope, NotBefore: from, Reason: reason(rec)}
		if i := slices.IndexFunc(have, func(h rbac.Grant) bool { return sameGrant(h, g, now) }); i >= 0 {
			have = slices.Delete(have, i, i+1)
			continue
		}
		if slices.ContainsFunc(m.Grants, func(h rbac.Grant) bool { return h.Key() == g.Key() && !strings.HasPrefix(h.Reason, ReasonPrefix) }) {
			continue // already granted by someone else; theirs to keep
		}
		st.grant = append(st.grant, g)
	}
	st.revoke = have
	for _, g := range st.revoke {
		st.fromDept = g.Scope.ID()
		st.fromPos = positionOf(g)
	}
	switch {
	case st.kind == Joiner:
	case len(st.grant)+len(st.revoke) > 0:
		st.kind = Mover
	case cur.DisplayName != st.user.DisplayName || cur.Language != st.user.Language || cur.Department != st.user.Department || cur.Status != st.user.Status:
		st.kind = Updated
	default:
		st.kind = Unchanged
		st.user = cur
	}
	return st, nil
}

// sameGrant reports whether stored position grant h already is the wanted
// g: same key, no end, and the same start (a start that has passed counts
// as none). The title in the reason may differ (another spelling of a
// title that maps to the same roles is no move).
func sameGrant(h, g rbac.Grant, now time.Time) bool {
	hb := h.NotBefore
	if !hb.After(now) {
		hb = time.Time{}
	}
	return h.Key() == g.Key() && h.NotAfter.IsZero() && hb.Equal(g.NotBefore)
}

func (s *Service) announce(ctx context.Context, st step, res Result) {
	d := map[string]string{"employee": st.rec.EmployeeID, "position": st.rec.Position, "department": st.rec.Department}
	if st.rec.Manager != "" {
		d["manager"] = st.rec.Manager
	}
	if !st.rec.StartDate.IsZero() {
		d["start"] = st.rec.StartDate.Format(time.DateOnly)
	}
	typ := EventUserUpdated
	switch st.kind {
	case Joiner:
		typ = EventUserProvisioned
	case Mover:
		typ = EventUserMoved
		d["from_department"] = st.fromDept
		d["from_position"] = st.fromPos
	}
	d["assigned"] = roleList(res.Assigned)
	d["revoked"] = roleList(res.Revoked)
	s.emit(ctx, Event{Type: typ, Subject: rbac.Subject("user:" + st.user.ID), Revision: res.Revision, Detail: d})
}

func roleList(gs []rbac.Grant) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = string(g.Role) + "@" + string(g.Scope)
	}
	return strings.Join(parts, ",")
}

func (s *Service) emit(ctx context.Context, e Event) {
	if s.sink == nil {
		return
	}
	e.Version = iam.EventSchemaVersion
	e.ID = audit.NewID()
	e.Time = s.now()
	if err := s.sink.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.Warn("onboard: event sink failed", "type", e.Type, "err", err)
	}
}

// welcome sends the welcome message to a joiner.
func (s *Service) welcome(ctx context.Context, rec Record, u signin.User) (*Message, error) {
	if s.mailer == nil {
		return nil, nil
	}
	w := welcome{org: s.org, name: u.DisplayName, email: u.Email, position: rec.Position, department: rec.Department,
		start: rec.StartDate, sso: s.sso}
	if s.act != nil {
		link, err := s.act.Link(u)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMail, err)
		}
		w.link, w.linkTTL = link, s.act.TTL()
	}
	msg := w.message(u.Language)
	sub := rbac.Subject("user:" + u.ID)
	if err := s.mailer.Send(ctx, msg); err != nil {
		s.emit(ctx, Event{Type: EventWelcomeFailed, Subject: sub, Detail: map[string]string{"employee": rec.EmployeeID}})
		return nil, fmt.Errorf("%w: employee %q: %w", ErrMail, rec.EmployeeID, err)
	}
	s.emit(ctx, Event{Type: EventWelcomeSent, Subject: sub, Detail: map[string]string{"employee": rec.EmployeeID, "language": msg.Language}})
	return &msg, nil
}
