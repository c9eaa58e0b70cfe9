package restapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
)

// MaxChecks is the largest batch /authz/check decides.
const MaxChecks = 100

// CheckItem is one check.
type CheckItem struct {
	Subject    string `json:"subject"`
	Permission string `json:"permission"`
	Scope      string `json:"scope"`
}

// CheckRequest is a batch of checks, decided on one policy snapshot.
type CheckRequest struct {
	Checks []CheckItem `json:"checks"`
}

// DecisionView is one decision.
type DecisionView struct {
	Allowed  bool   `json:"allowed"`
	Reason   string `json:"reason"`
	Revision int64  `json:"revision"`
	// Error is "invalid_input" when the check itself was malformed.
	Error string `json:"error,omitempty"`
}

// CheckResponse holds one decision per check, in order.
type CheckResponse struct {
	Decisions []DecisionView `json:"decisions"`
}

// ExplainResponse is a decision with the path that decided it.
type ExplainResponse struct {
	DecisionView
	Decisive string   `json:"decisive"`
	Others   []string `json:"others"`
}

// WhoCanResponse lists the roles holding a permission and the subjects
// that may use it at the scope asked.
type WhoCanResponse struct {
	Permission string        `json:"permission"`
	Scope      string        `json:"scope"`
	Roles      []RoleHolding `json:"roles"`
	Subjects   []HolderView  `json:"subjects"`
}

// RoleHolding is a role that holds the permission.
type RoleHolding struct {
	Role   string `json:"role"`
	Denied bool   `json:"denied"`
	Path   string `json:"path"`
}

// HolderView is a subject that may use the permission.
type HolderView struct {
	Subject string `json:"subject"`
	Path    string `json:"path"`
}

// FilterRequest asks for a subject's data filter.
type FilterRequest struct {
	Subject    string `json:"subject"`
	Permission string `json:"permission"`
}

// FilterResponse is an abac.Filter as data: all records, none, or those
// matching any one of the conjunctions (each a list of conditions that
// must all hold).
type FilterResponse struct {
	All  bool         `json:"all"`
	None bool         `json:"none"`
	Any  [][]CondView `json:"any"`
}

// CondView is one condition: field op values.
type CondView struct {
	Field  string `json:"field"`
	Op     string `json:"op"`
	Values []any  `json:"values"`
}

func decisionView(d iam.Decision) DecisionView {
	return DecisionView{Allowed: d.Allowed, Reason: d.Reason, Revision: d.Revision}
}

// unavailable reports errors that mean no decision could be made at all.
func unavailable(err error) bool {
	return errors.Is(err, iam.ErrStale) || errors.Is(err, iam.ErrClosed)
}

func (a *API) check(w http.ResponseWriter, r *http.Request) error {
	b := bodyOf[CheckRequest](r)
	if len(b.Checks) == 0 || len(b.Checks) > MaxChecks {
		return fmt.Errorf("%w: 1 to %d checks", iamhttp.ErrBadRequest, MaxChecks)
	}
	reqs := make([]iam.Request, len(b.Checks))
	for i, c := range b.Checks {
		reqs[i] = iam.Request{Subject: iam.Subject(c.Subject), Permission: iam.Permission(c.Permission), Scope: iam.Scope(c.Scope)}
	}
	ds, err := a.authz.CheckMany(r.Context(), reqs)
	if err != nil && unavailable(err) {
		return err
	}
	out := CheckResponse{Decisions: make([]DecisionView, len(ds))}
	for i, d := range ds {
		out.Decisions[i] = decisionView(d)
		// A malformed request is denied with a reason; say so plainly.
		if err != nil && !d.Allowed && validRequest(reqs[i]) != nil {
			out.Decisions[i].Error = "invalid_input"
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func validRequest(q iam.Request) error {
	return errors.Join(q.Subject.Validate(), q.Permission.Validate(), q.Scope.Validate())
}

func (a *API) explain(w http.ResponseWriter, r *http.Request) error {
	b := bodyOf[CheckItem](r)
	e, err := a.authz.Explain(r.Context(), iam.Subject(b.Subject), iam.Permission(b.Permission), iam.Scope(b.Scope))
	if err != nil {
		return err
	}
	out := ExplainResponse{DecisionView: decisionView(e.Decision), Decisive: e.Decisive.String(), Others: []string{}}
	for _, p := range e.Others {
		out.Others = append(out.Others, p.String())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) whoCan(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if len(q["permission"]) != 1 {
		return fmt.Errorf("%w: one permission parameter", iamhttp.ErrBadRequest)
	}
	acc, err := a.authz.WhoCan(r.Context(), iam.Permission(q.Get("permission")), iam.Scope(q.Get("scope")))
	if err != nil {
		return err
	}
	out := WhoCanResponse{Permission: string(acc.Permission), Scope: string(acc.Scope), Roles: []RoleHolding{}, Subjects: []HolderView{}}
	for _, h := range acc.Roles {
		out.Roles = append(out.Roles, RoleHolding{Role: string(h.Role), Denied: h.Denied, Path: h.Path.String()})
	}
	for _, h := range acc.Subjects {
		out.Subjects = append(out.Subjects, HolderView{Subject: string(h.Subject), Path: h.Path.String()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) filter(w http.ResponseWriter, r *http.Request) error {
	if a.o.scoper == nil {
		return fmt.Errorf("%w: no data scopes are configured", iamhttp.ErrNotImplemented)
	}
	b := bodyOf[FilterRequest](r)
	f, err := a.authz.Filter(r.Context(), iam.Subject(b.Subject), iam.Permission(b.Permission), a.o.scoper)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, filterView(f))
	return nil
}

func filterView(f abac.Filter) FilterResponse {
	out := FilterResponse{All: f.MatchesAll(), None: f.MatchesNone(), Any: [][]CondView{}}
	if out.All || out.None {
		return out
	}
	for _, conj := range f.Any {
		cs := make([]CondView, 0, len(conj))
		for _, c := range conj {
			vals := c.Values
			if vals == nil {
				vals = []any{}
			}
			cs = append(cs, CondView{Field: c.Field, Op: c.Op.String(), Values: vals})
		}
		out.Any = append(out.Any, cs)
	}
	return out
}
