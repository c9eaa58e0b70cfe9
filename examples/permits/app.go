package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"gorm.io/gorm"

	"github.com/civic-platform/security/adapters/gormscope"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/signin"
)

// Permit is a building permit application. The abac tags place it in its
// department and ward; the iam tag says who may see the SIN.
type Permit struct {
	ID         string `gorm:"primaryKey" json:"id" iam:"key" abac:"id"`
	Department string `json:"department" abac:"department"`
	Ward       string `json:"ward" abac:"ward"`
	Applicant  string `json:"applicant"`
	SIN        string `json:"sin" iam:"permits.applicant.sin.view" mask:"sin"`
	Status     string `json:"status"`
	ApprovedBy string `json:"approved_by,omitempty"`
}

// columns maps the data-scope fields to Permit's columns.
var columns = map[string]string{"department": "department", "ward": "ward", "id": "id"}

// App is the permits service.
type App struct {
	db       *gorm.DB
	authz    *iam.Authorizer
	admin    *iam.Admin
	mw       *iamhttp.Middleware
	sessions *session.Manager
	signin   *signin.Service
	scoper   *iam.Scoper
	masker   *iam.RecordMasker
}

// NewApp wires the service. db holds the permits (AutoMigrate runs here:
// it is the service's own table).
func NewApp(db *gorm.DB, authz *iam.Authorizer, admin *iam.Admin, sessions *session.Manager, signins *signin.Service, opts ...iamhttp.Option) (*App, error) {
	if err := db.AutoMigrate(&Permit{}); err != nil {
		return nil, err
	}
	mw, err := iamhttp.New(authz, append([]iamhttp.Option{iamhttp.WithSessions(sessions)}, opts...)...)
	if err != nil {
		return nil, err
	}
	scoper, err := iam.NewScoper(iam.DataScopes{})
	if err != nil {
		return nil, err
	}
	masker, err := iam.NewRecordMasker(authz, scoper, iam.MaskOptions{})
	if err != nil {
		return nil, err
	}
	return &App{db: db, authz: authz, admin: admin, mw: mw, sessions: sessions, signin: signins, scoper: scoper, masker: masker}, nil
}

// Handler returns the service's routes behind authentication.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", a.login)
	mux.Handle("POST /logout", a.mw.RequireCaller(http.HandlerFunc(a.logout)))
	mux.Handle("GET /permits", a.mw.RequireCaller(http.HandlerFunc(a.list)))
	mux.Handle("POST /permits/{id}/approve",
		a.mw.Require("permits.application.approve", iamhttp.Lookup("id", a.permitScope))(http.HandlerFunc(a.approve)))
	mux.Handle("POST /admin/departments/{dept}/roles/{role}/members/{user}",
		a.mw.Require("iam.role.assign", iamhttp.FromPath("dept", "dept"))(http.HandlerFunc(a.assign)))
	return a.mw.Authenticate(mux)
}

func (a *App) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Email, Password string }
	// application/json only: another site's form cannot sign a browser in.
	if err := iamhttp.DecodeJSON(r, &in, 4<<10); err != nil {
		a.mw.Error(w, r, err)
		return
	}
	client, _, _ := net.SplitHostPort(r.RemoteAddr)
	res, err := a.signin.SignIn(r.Context(), signin.Attempt{Email: in.Email, Password: in.Password, Client: client})
	if err == nil && res.MFARequired {
		err = signin.ErrMFARequired // this example has no second step
	}
	if err != nil {
		a.mw.Error(w, r, err)
		return
	}
	a.mw.StartSession(w, r, res.Session)
	writeJSON(w, map[string]string{"subject": res.User.Subject()})
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.Logout(r.Context(), iamhttp.Token(r.Context())); err != nil && !errors.Is(err, session.ErrNoSession) {
		a.mw.Error(w, r, err)
		return
	}
	a.mw.EndSession(w)
	w.WriteHeader(http.StatusNoContent)
}

// list returns the permits the caller may read, each masked for its own
// department.
func (a *App) list(w http.ResponseWriter, r *http.Request) {
	c, _ := iamhttp.Principal(r.Context())
	f, err := a.authz.Filter(r.Context(), c.Subject, "permits.application.read", a.scoper)
	if err != nil {
		a.mw.Error(w, r, err)
		return
	}
	var permits []Permit
	if err := a.db.WithContext(r.Context()).Scopes(gormscope.Scope(f, columns)).Order("id").Find(&permits).Error; err != nil {
		a.mw.Error(w, r, err)
		return
	}
	if permits == nil {
		permits = []Permit{}
	}
	if err := a.masker.Mask(r.Context(), c.Subject, &permits); err != nil {
		a.mw.Error(w, r, err)
		return
	}
	writeJSON(w, permits)
}

// permitScope is the scope a permit's approval is decided at.
func (a *App) permitScope(ctx context.Context, id string) (iam.Scope, error) {
	var p Permit
	err := a.db.WithContext(ctx).Select("department").Where("id = ?", id).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", iamhttp.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	return iam.Scope("dept:" + p.Department), nil
}

func (a *App) approve(w http.ResponseWriter, r *http.Request) {
	c, _ := iamhttp.Principal(r.Context())
	res := a.db.WithContext(r.Context()).Model(&Permit{}).Where("id = ? AND status = ?", r.PathValue("id"), "submitted").
		Updates(map[string]any{"status": "approved", "approved_by": string(c.Subject)})
	switch {
	case res.Error != nil:
		a.mw.Error(w, r, res.Error)
	case res.RowsAffected == 0:
		a.mw.Error(w, r, fmt.Errorf("%w: permit is not awaiting approval", iamhttp.ErrBadRequest))
	default:
		writeJSON(w, map[string]string{"id": r.PathValue("id"), "status": "approved"})
	}
}

func (a *App) assign(w http.ResponseWriter, r *http.Request) {
	c, _ := iamhttp.Principal(r.Context())
	rev, err := a.admin.Assign(r.Context(), iam.Grant{
		Subject: iam.Subject("user:" + r.PathValue("user")), Role: iam.RoleID(r.PathValue("role")),
		Scope: iam.Scope("dept:" + r.PathValue("dept")), Reason: "assigned by " + string(c.Subject),
	})
	if err != nil {
		a.mw.Error(w, r, err)
		return
	}
	w.Header().Set(iamhttp.RevisionHeader, strconv.FormatInt(rev, 10))
	writeJSON(w, map[string]int64{"revision": rev})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
