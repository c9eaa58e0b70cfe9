package restapi

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/session/signin"
)

// MaxPage is the largest page of users returned at once.
const MaxPage = 500

// UserView is a user record (no credential).
type UserView struct {
	ID          string    `json:"id"`
	Subject     string    `json:"subject"`
	EmployeeID  string    `json:"employee_id,omitempty"`
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name,omitempty"`
	Language    string    `json:"language,omitempty"`
	Department  string    `json:"department,omitempty"`
	Status      string    `json:"status"`
	Created     time.Time `json:"created,omitzero"`
}

// UserList is a page of users; Next, when set, is the after parameter of
// the next page.
type UserList struct {
	Users []UserView `json:"users"`
	Next  string     `json:"next,omitempty"`
}

// AssignmentList is what reaches a subject: its grants and effective roles.
type AssignmentList struct {
	Subject string           `json:"subject"`
	Grants  []GrantView      `json:"grants"`
	Roles   []EffectiveRoleV `json:"roles"`
}

// GrantView is one grant reaching the subject.
type GrantView struct {
	Subject   string    `json:"subject"`
	Role      string    `json:"role"`
	Scope     string    `json:"scope"`
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	Reason    string    `json:"reason,omitempty"`
	Via       string    `json:"via,omitempty"`
	Active    bool      `json:"active"`
}

// EffectiveRoleV is a role held through a grant.
type EffectiveRoleV struct {
	Role   string    `json:"role"`
	Scope  string    `json:"scope"`
	Active bool      `json:"active"`
	Until  time.Time `json:"until,omitzero"`
	Path   string    `json:"path"`
}

// GrantRequest assigns a role.
type GrantRequest struct {
	Subject   string    `json:"subject"`
	Role      string    `json:"role"`
	Scope     string    `json:"scope"`
	NotBefore time.Time `json:"not_before,omitzero"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	Reason    string    `json:"reason"`
}

// RevokeRequest revokes a grant.
type RevokeRequest struct {
	Subject string `json:"subject"`
	Role    string `json:"role"`
	Scope   string `json:"scope"`
	Reason  string `json:"reason"`
}

// RevisionResponse carries the policy revision a change produced: send it
// back as X-Policy-Revision to read your own write.
type RevisionResponse struct {
	Revision int64 `json:"revision"`
}

// RoleView is a role.
type RoleView struct {
	ID          string            `json:"id"`
	Permissions []string          `json:"permissions"`
	Deny        []string          `json:"deny"`
	Inherits    []string          `json:"inherits"`
	Labels      map[string]string `json:"labels,omitempty"`
	Emergency   bool              `json:"emergency"`
}

// RoleList lists roles.
type RoleList struct {
	Revision int64      `json:"revision"`
	Roles    []RoleView `json:"roles"`
}

// TemplateView is a role template.
type TemplateView struct {
	ID          string            `json:"id"`
	Labels      map[string]string `json:"labels"`
	Description string            `json:"description"`
	Permissions []string          `json:"permissions"`
	Deny        []string          `json:"deny"`
	Composite   bool              `json:"composite"`
	Emergency   bool              `json:"emergency"`
}

// TemplateList lists role templates.
type TemplateList struct {
	Templates []TemplateView `json:"templates"`
}

// EmergencyRequest activates emergency access.
type EmergencyRequest struct {
	Subject string `json:"subject"`
	Role    string `json:"role"`
	Scope   string `json:"scope"`
	// WindowSeconds is how long access lasts (at most 24 h).
	WindowSeconds int64  `json:"window_seconds"`
	Reason        string `json:"reason"`
}

// EndEmergencyRequest ends emergency access early.
type EndEmergencyRequest struct {
	Subject string `json:"subject"`
	Role    string `json:"role"`
	Scope   string `json:"scope"`
	Reason  string `json:"reason"`
}

// ActivationView is an activation of emergency access.
type ActivationView struct {
	ID       string    `json:"id"`
	Subject  string    `json:"subject"`
	Role     string    `json:"role"`
	Scope    string    `json:"scope"`
	From     time.Time `json:"from"`
	Until    time.Time `json:"until"`
	Reason   string    `json:"reason"`
	Revision int64     `json:"revision"`
}

func userView(u signin.User) UserView {
	st := string(u.Status)
	if st == "" {
		st = string(signin.StatusActive)
	}
	return UserView{ID: u.ID, Subject: u.Subject(), EmployeeID: u.EmployeeID, Email: u.Email, DisplayName: u.DisplayName,
		Language: u.Language, Department: u.Department, Status: st, Created: u.Created}
}

var errNoUsers = fmt.Errorf("%w: no user directory is configured", iamhttp.ErrNotImplemented)

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	if a.o.users == nil {
		return errNoUsers
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPage {
			return fmt.Errorf("%w: limit must be 1..%d", iamhttp.ErrBadRequest, MaxPage)
		}
		limit = n
	}
	after := q.Get("after")
	if len(after) > 100 {
		return fmt.Errorf("%w: after too long", iamhttp.ErrBadRequest)
	}
	us, err := a.o.users.ListUsers(r.Context(), after, limit+1)
	if err != nil {
		return err
	}
	out := UserList{Users: []UserView{}}
	for i, u := range us {
		if i == limit {
			out.Next = us[limit-1].ID
			break
		}
		out.Users = append(out.Users, userView(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	if a.o.users == nil {
		return errNoUsers
	}
	id := r.PathValue("id")
	if id == "" || len(id) > 100 {
		return fmt.Errorf("%w: user id", iamhttp.ErrBadRequest)
	}
	u, err := a.o.users.User(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userView(u))
	return nil
}

var errNoAdmin = fmt.Errorf("%w: policy administration is not configured", iamhttp.ErrNotImplemented)

func (a *API) listAssignments(w http.ResponseWriter, r *http.Request) error {
	sub := iam.Subject("user:" + r.PathValue("id"))
	if err := sub.Validate(); err != nil {
		return fmt.Errorf("%w: %w", iamhttp.ErrBadRequest, err)
	}
	as, err := reports.Assignments(a.authz.View(), sub)
	if err != nil {
		return err
	}
	out := AssignmentList{Subject: string(as.Subject), Grants: []GrantView{}, Roles: []EffectiveRoleV{}}
	for _, g := range as.Grants {
		out.Grants = append(out.Grants, GrantView{Subject: string(g.Grant.Subject), Role: string(g.Grant.Role), Scope: string(g.Grant.Scope),
			NotBefore: g.Grant.NotBefore, NotAfter: g.Grant.NotAfter, Reason: g.Grant.Reason, Via: string(g.Via), Active: g.Active})
	}
	for _, er := range as.Roles {
		out.Roles = append(out.Roles, EffectiveRoleV{Role: string(er.Role), Scope: string(er.Scope), Active: er.Active, Until: er.Until, Path: er.Path.String()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) assign(w http.ResponseWriter, r *http.Request) error {
	if a.o.admin == nil {
		return errNoAdmin
	}
	b := bodyOf[GrantRequest](r)
	rev, err := a.o.admin.Assign(r.Context(), iam.Grant{Subject: iam.Subject(b.Subject), Role: iam.RoleID(b.Role), Scope: iam.Scope(b.Scope),
		NotBefore: b.NotBefore, NotAfter: b.NotAfter, Reason: b.Reason})
	if err != nil {
		return err
	}
	w.Header().Set(iamhttp.RevisionHeader, strconv.FormatInt(rev, 10))
	writeJSON(w, http.StatusCreated, RevisionResponse{Revision: rev})
	return nil
}

func (a *API) revoke(w http.ResponseWriter, r *http.Request) error {
	if a.o.admin == nil {
		return errNoAdmin
	}
	b := bodyOf[RevokeRequest](r)
	rev, err := a.o.admin.Revoke(r.Context(), iam.GrantKey{Subject: iam.Subject(b.Subject), Role: iam.RoleID(b.Role), Scope: iam.Scope(b.Scope)}, b.Reason)
	if err != nil {
		return err
	}
	w.Header().Set(iamhttp.RevisionHeader, strconv.FormatInt(rev, 10))
	writeJSON(w, http.StatusOK, RevisionResponse{Revision: rev})
	return nil
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func (a *API) listRoles(w http.ResponseWriter, r *http.Request) error {
	v := a.authz.View()
	if err := v.Err(); err != nil {
		return err
	}
	m := v.Model()
	out := RoleList{Revision: v.Revision(), Roles: []RoleView{}}
	for _, role := range m.Roles {
		out.Roles = append(out.Roles, RoleView{ID: string(role.ID), Permissions: strs(role.Permissions), Deny: strs(role.Deny),
			Inherits: strs(role.Inherits), Labels: role.Labels, Emergency: role.Emergency})
	}
	slices.SortFunc(out.Roles, func(x, y RoleView) int { return cmpString(x.ID, y.ID) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (a *API) listTemplates(w http.ResponseWriter, r *http.Request) error {
	if a.o.templates == nil {
		return fmt.Errorf("%w: no role templates are configured", iamhttp.ErrNotImplemented)
	}
	out := TemplateList{Templates: []TemplateView{}}
	for _, id := range a.o.templates.IDs() {
		t, ok := a.o.templates.Template(id)
		if !ok {
			continue
		}
		labels := t.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		out.Templates = append(out.Templates, TemplateView{ID: string(t.ID), Labels: labels, Description: t.Description,
			Permissions: strs(t.Permissions), Deny: strs(t.Deny), Composite: t.Composite, Emergency: t.Emergency})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) activateEmergency(w http.ResponseWriter, r *http.Request) error {
	if a.o.admin == nil {
		return errNoAdmin
	}
	b := bodyOf[EmergencyRequest](r)
	if b.WindowSeconds <= 0 || b.WindowSeconds > int64(iam.MaxEmergencyWindow/time.Second) {
		return fmt.Errorf("%w: window_seconds must be 1..%d", iamhttp.ErrBadRequest, int64(iam.MaxEmergencyWindow/time.Second))
	}
	act, err := a.o.admin.ActivateEmergency(r.Context(), iam.Subject(b.Subject), iam.RoleID(b.Role), iam.Scope(b.Scope),
		time.Duration(b.WindowSeconds)*time.Second, b.Reason)
	if err != nil {
		return err
	}
	w.Header().Set(iamhttp.RevisionHeader, strconv.FormatInt(act.Revision, 10))
	writeJSON(w, http.StatusCreated, ActivationView{ID: act.ID, Subject: string(act.Subject), Role: string(act.Role), Scope: string(act.Scope),
		From: act.From, Until: act.Until, Reason: act.Reason, Revision: act.Revision})
	return nil
}

func (a *API) endEmergency(w http.ResponseWriter, r *http.Request) error {
	if a.o.admin == nil {
		return errNoAdmin
	}
	b := bodyOf[EndEmergencyRequest](r)
	rev, err := a.o.admin.EndEmergency(r.Context(), iam.Subject(b.Subject), iam.RoleID(b.Role), iam.Scope(b.Scope), b.Reason)
	if err != nil {
		return err
	}
	w.Header().Set(iamhttp.RevisionHeader, strconv.FormatInt(rev, 10))
	writeJSON(w, http.StatusOK, RevisionResponse{Revision: rev})
	return nil
}
