package iamhttp

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/session"
)

// MaxScopeLen is the longest scope a [ScopeFunc] may produce; anything
// longer is refused with 400 before the policy sees it.
const MaxScopeLen = 256

// RevisionHeader carries the policy revision a decision was made on in a
// response, and, in a request, the revision the client needs this process
// to have reached (one its own write returned) before it decides.
const RevisionHeader = "X-Policy-Revision"

// A ScopeFunc takes the scope of a requirement from the request. An error
// wrapping [ErrNotFound] answers 404; one wrapping [ErrBadRequest] (or
// iam.ErrInvalidInput) answers 400; anything else 500.
type ScopeFunc func(r *http.Request) (iam.Scope, error)

// Fixed is a ScopeFunc that always gives scope.
func Fixed(scope iam.Scope) ScopeFunc {
	return func(*http.Request) (iam.Scope, error) { return scope, nil }
}

// FromPath takes the scope from the path wildcard name (r.PathValue):
// kind "dept" turns /departments/{dept}/... with "building" into
// dept:building; an empty kind takes the whole value as the scope
// ("ward:7"). The result must be a well-formed scope.
func FromPath(kind, name string) ScopeFunc {
	return func(r *http.Request) (iam.Scope, error) {
		return scopeOf(kind, r.PathValue(name), "path value", name)
	}
}

// FromHeader takes the scope from a request header, like [FromPath]. A
// header given twice is refused.
func FromHeader(kind, header string) ScopeFunc {
	return func(r *http.Request) (iam.Scope, error) {
		vs := r.Header.Values(header)
		if len(vs) != 1 {
			return "", fmt.Errorf("%w: want exactly one %s header, got %d", ErrBadRequest, header, len(vs))
		}
		return scopeOf(kind, vs[0], "header", header)
	}
}

// FromQuery takes the scope from the URL query parameter name, like
// [FromPath]. A parameter given twice is refused.
func FromQuery(kind, name string) ScopeFunc {
	return func(r *http.Request) (iam.Scope, error) {
		vs := r.URL.Query()[name]
		if len(vs) != 1 {
			return "", fmt.Errorf("%w: want exactly one %s parameter, got %d", ErrBadRequest, name, len(vs))
		}
		return scopeOf(kind, vs[0], "query parameter", name)
	}
}

// Lookup takes the scope from a stored record: it reads the path wildcard
// name (the record's id) and asks find for the record's scope. find
// returns an error wrapping [ErrNotFound] for a missing record (404).
func Lookup(name string, find func(ctx context.Context, id string) (iam.Scope, error)) ScopeFunc {
	return func(r *http.Request) (iam.Scope, error) {
		id := r.PathValue(name)
		if id == "" || len(id) > MaxScopeLen {
			return "", fmt.Errorf("%w: path value %s empty or too long", ErrBadRequest, name)
		}
		s, err := find(r.Context(), id)
		if err != nil {
			return "", err
		}
		return s, nil
	}
}

// scopeOf builds the scope from v; what and name say where v came from,
// for the error only.
func scopeOf(kind, v, what, name string) (iam.Scope, error) {
	if v == "" || len(v) > MaxScopeLen {
		return "", fmt.Errorf("%w: %s %s empty or longer than %d bytes", ErrBadRequest, what, name, MaxScopeLen)
	}
	s := iam.Scope(v)
	if kind != "" {
		if strings.Contains(v, ":") {
			return "", fmt.Errorf("%w: %s %s holds a separator", ErrBadRequest, what, name)
		}
		s = iam.Scope(kind + ":" + v)
	}
	if err := s.Validate(); err != nil {
		return "", fmt.Errorf("%w: %s %s: %w", ErrBadRequest, what, name, err)
	}
	return s, nil
}

// A Requirement is a permission at a scope taken from the request.
type Requirement struct {
	Permission iam.Permission
	Scope      ScopeFunc
}

// Require returns middleware that runs the handler only if the caller may
// use perm at the scope scope gives (see [Middleware.RequireAll]).
func (m *Middleware) Require(perm iam.Permission, scope ScopeFunc) func(http.Handler) http.Handler {
	return m.RequireAll(Requirement{Permission: perm, Scope: scope})
}

// RequireCaller runs next only for an authenticated caller (401 with
// WWW-Authenticate otherwise), for handlers that decide per record
// themselves (a list filtered with iam.Authorizer.Filter).
func (m *Middleware) RequireCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(callerKey{}).(*Caller); !ok || c == nil {
			m.fail(w, r, errUnauthenticated, 0)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireAll returns middleware that runs the handler only if the caller
// meets every requirement. It answers 401 (with WWW-Authenticate) to an
// anonymous caller, 403 to a denial, 403 step-up when a permission marked
// iam.WithMFARequired is allowed but the session has not given a second
// factor, 400 to a malformed scope, 404 when a scope lookup finds no record
// and 503 (with Retry-After) when the policy is stale or unavailable. The
// response carries X-Policy-Revision, the revision the decision used.
//
// An API key is held to its narrowing as well as the policy, and is never
// allowed a permission that requires MFA (a key cannot give a second
// factor).
//
// A request carrying X-Policy-Revision: n waits (up to the bound of
// [WithRevisionWait]) until this process has policy revision n, so a client
// reads its own writes.
func (m *Middleware) RequireAll(reqs ...Requirement) func(http.Handler) http.Handler {
	return m.require(false, reqs)
}

// RequireAny is [Middleware.RequireAll] satisfied by any one requirement.
// When none allows, the refusal reported is the most serious one met: an
// unavailable policy before a malformed scope, before a missing second
// factor, before a denial.
func (m *Middleware) RequireAny(reqs ...Requirement) func(http.Handler) http.Handler {
	return m.require(true, reqs)
}

func (m *Middleware) require(anyOf bool, reqs []Requirement) func(http.Handler) http.Handler {
	for i, q := range reqs {
		if q.Scope == nil {
			panic(fmt.Sprintf("iamhttp: requirement %d (%s) has no ScopeFunc", i, q.Permission))
		}
	}
	if len(reqs) == 0 {
		panic("iamhttp: Require with no requirement")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := r.Context().Value(callerKey{}).(*Caller)
			if !ok || c == nil {
				m.fail(w, r, errUnauthenticated, 0)
				return
			}
			if err := m.waitRevision(r); err != nil {
				m.fail(w, r, err, 0)
				return
			}
			var rev int64
			var worst error
			allowed := false
			for _, q := range reqs {
				d, err := m.decide(r, c, q)
				rev = max(rev, d.Revision)
				if err == nil {
					allowed = true
					if anyOf {
						break
					}
					continue
				}
				if !anyOf {
					m.fail(w, r, err, rev)
					return
				}
				if worst == nil || severity(err) > severity(worst) {
					worst = err
				}
			}
			if !allowed {
				m.fail(w, r, worst, rev)
				return
			}
			w.Header()[RevisionHeader] = m.revisionValue(rev)
			next.ServeHTTP(w, r)
		})
	}
}

// revisionValue returns the header value for rev, shared between the
// responses of one revision so that a request allocates none.
func (m *Middleware) revisionValue(rev int64) []string {
	if c := m.rev.Load(); c != nil && c.rev == rev {
		return c.value[:1:1]
	}
	c := &revHeader{rev: rev, value: []string{strconv.FormatInt(rev, 10)}}
	m.rev.Store(c)
	return c.value[:1:1]
}

type revHeader struct {
	rev   int64
	value []string
}

// decide returns nil when c may use q, else the refusal.
func (m *Middleware) decide(r *http.Request, c *Caller, q Requirement) (iam.Decision, error) {
	scope, err := q.Scope(r)
	if err != nil {
		return iam.Decision{}, err
	}
	if len(scope) > MaxScopeLen {
		return iam.Decision{}, fmt.Errorf("%w: scope longer than %d bytes", ErrBadRequest, MaxScopeLen)
	}
	if err := scope.Validate(); err != nil {
		return iam.Decision{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if c.key != nil && !c.key.Allows(q.Permission, scope) {
		return iam.Decision{}, &iam.DeniedError{Subject: c.Subject, Permission: q.Permission, Scope: scope, Reason: "outside the API key's narrowing"}
	}
	// One rule for step-up: iam's, given what authentication established.
	d, err := iam.CheckAuthenticated(r.Context(), m.authz, iam.Authn{Subject: c.Subject, MFA: c.MFA == session.MFADone}, q.Permission, scope)
	if err != nil {
		return d, err
	}
	if d.StepUp {
		if c.key != nil {
			return d, &iam.DeniedError{Subject: c.Subject, Permission: q.Permission, Scope: scope, Reason: "requires MFA, which an API key cannot give", Revision: d.Revision}
		}
		return d, &iam.StepUpError{Subject: c.Subject, Permission: q.Permission, Scope: scope}
	}
	if !d.Allowed {
		return d, &iam.DeniedError{Subject: c.Subject, Permission: q.Permission, Scope: scope, Reason: d.Reason, Revision: d.Revision}
	}
	return d, nil
}

// severity orders refusals for RequireAny.
func severity(err error) int {
	switch p := problemOf(err); {
	case p.Status >= 500:
		return 4
	case p.Status == http.StatusBadRequest || p.Status == http.StatusNotFound:
		return 3
	case p.Type == ProblemStepUp:
		return 2
	}
	return 1
}

func (m *Middleware) waitRevision(r *http.Request) error {
	vs := r.Header.Values(RevisionHeader)
	if len(vs) == 0 {
		return nil
	}
	if len(vs) > 1 || len(vs[0]) > 19 {
		return fmt.Errorf("%w: bad %s header", ErrBadRequest, RevisionHeader)
	}
	n, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%w: bad %s header", ErrBadRequest, RevisionHeader)
	}
	if n <= m.authz.Revision() {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.o.waitMax)
	defer cancel()
	if err := m.authz.WaitForRevision(ctx, n); err != nil {
		return fmt.Errorf("%w: revision %d not reached: %w", iam.ErrStale, n, err)
	}
	return nil
}
