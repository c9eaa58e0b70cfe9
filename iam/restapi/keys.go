package restapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/session/apikey"
)

// AccountRequest creates a service account.
type AccountRequest struct {
	ID          string `json:"id"`
	Owner       string `json:"owner"`
	Department  string `json:"department"`
	Description string `json:"description,omitempty"`
}

// AccountView is a service account.
type AccountView struct {
	ID          string    `json:"id"`
	Subject     string    `json:"subject"`
	Owner       string    `json:"owner"`
	Department  string    `json:"department"`
	Description string    `json:"description,omitempty"`
	Status      string    `json:"status"`
	Created     time.Time `json:"created"`
}

// AccountList lists service accounts.
type AccountList struct {
	Accounts []AccountView `json:"accounts"`
}

// KeyRequest creates an API key, optionally narrowed to some permissions
// and scopes of the account's.
type KeyRequest struct {
	Name        string    `json:"name"`
	Expires     time.Time `json:"expires,omitzero"`
	Permissions []string  `json:"permissions,omitempty"`
	Scopes      []string  `json:"scopes,omitempty"`
}

// RotateRequest rotates a key; the old key stays valid for the overlap
// (default 7 days).
type RotateRequest struct {
	OverlapSeconds int64 `json:"overlap_seconds,omitempty"`
}

// ReasonRequest carries the reason for a revocation.
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// KeyView is a stored key: never its secret.
type KeyView struct {
	ID          string    `json:"id"`
	Account     string    `json:"account"`
	Name        string    `json:"name"`
	State       string    `json:"state"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires,omitzero"`
	Retires     time.Time `json:"retires,omitzero"`
	Revoked     time.Time `json:"revoked,omitzero"`
	LastUsed    time.Time `json:"last_used,omitzero"`
	RotatedFrom string    `json:"rotated_from,omitempty"`
	ReplacedBy  string    `json:"replaced_by,omitempty"`
	Permissions []string  `json:"permissions"`
	Scopes      []string  `json:"scopes"`
}

// KeyList lists keys.
type KeyList struct {
	Keys []KeyView `json:"keys"`
}

// CreatedKey is a new key: Secret is shown this once.
type CreatedKey struct {
	Secret string  `json:"secret"`
	Key    KeyView `json:"key"`
}

var errNoKeys = fmt.Errorf("%w: API keys are not configured", iamhttp.ErrNotImplemented)

func accountView(a apikey.Account) AccountView {
	return AccountView{ID: a.ID, Subject: string(a.Subject()), Owner: string(a.Owner), Department: a.Department,
		Description: a.Description, Status: string(a.Status), Created: a.Created}
}

func keyView(k apikey.Key, now time.Time) KeyView {
	return KeyView{ID: k.ID, Account: k.Account, Name: k.Name, State: string(k.StateAt(now)), Created: k.Created,
		Expires: k.Expires, Retires: k.Retires, Revoked: k.Revoked, LastUsed: k.LastUsed, RotatedFrom: k.RotatedFrom,
		ReplacedBy: k.ReplacedBy, Permissions: strs(k.Narrowing.Permissions), Scopes: strs(k.Narrowing.Scopes)}
}

func (a *API) createAccount(w http.ResponseWriter, r *http.Request) error {
	if a.o.keys == nil {
		return errNoKeys
	}
	b := bodyOf[AccountRequest](r)
	acc, err := a.o.keys.CreateAccount(r.Context(), apikey.Account{ID: b.ID, Owner: iam.Subject(b.Owner), Department: b.Department, Description: b.Description})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, accountView(acc))
	return nil
}

func (a *API) listAccounts(w http.ResponseWriter, r *http.Request) error {
	if a.o.keys == nil {
		return errNoKeys
	}
	accs, err := a.o.keys.Accounts(r.Context())
	if err != nil {
		return err
	}
	out := AccountList{Accounts: []AccountView{}}
	for _, acc := range accs {
		out.Accounts = append(out.Accounts, accountView(acc))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) error {
	if a.o.keys == nil {
		return errNoKeys
	}
	b := bodyOf[KeyRequest](r)
	n := apikey.Narrowing{}
	for _, p := range b.Permissions {
		n.Permissions = append(n.Permissions, iam.Permission(p))
	}
	for _, s := range b.Scopes {
		n.Scopes = append(n.Scopes, iam.Scope(s))
	}
	c, err := a.o.keys.CreateKey(r.Context(), r.PathValue("id"), apikey.KeySpec{Name: b.Name, Expires: b.Expires, Narrowing: n})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, CreatedKey{Secret: c.Secret, Key: keyView(c.Key, time.Now())})
	return nil
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	if a.o.keys == nil {
		return errNoKeys
	}
	id := r.PathValue("id")
	if _, err := a.o.keys.Account(r.Context(), id); err != nil {
		return err
	}
	ks, err := a.o.keys.Keys(r.Context(), id)
	if err != nil {
		return err
	}
	out := KeyList{Keys: []KeyView{}}
	now := time.Now()
	for _, k := range ks {
		out.Keys = append(out.Keys, keyView(k, now))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) error {
	if a.o.keys == nil {
		return errNoKeys
	}
	b := bodyOf[RotateRequest](r)
	if b.OverlapSeconds < 0 || b.OverlapSeconds > 90*24*3600 {
		return fmt.Errorf("%w: overlap_seconds out of range", iamhttp.ErrBadRequest)
	}
	c, err := a.o.keys.Rotate(r.Context(), r.PathValue("id"), time.Duration(b.OverlapSeconds)*time.Second)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, CreatedKey{Secret: c.Secret, Key: keyView(c.Key, time.Now())})
	return nil
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if a.o.keys == nil {
		return errNoKeys
	}
	b := bodyOf[ReasonRequest](r)
	if err := a.o.keys.Revoke(r.Context(), r.PathValue("id"), b.Reason); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) keyReport(w http.ResponseWriter, r *http.Request) error {
	if a.o.keys == nil {
		return errNoKeys
	}
	rep, err := a.o.keys.Report(r.Context(), apikey.ReportOptions{})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return rep.WriteJSON(w)
}
