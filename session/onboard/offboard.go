package onboard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/signin"
)

// PersonalAccountPrefix marks a person's own service accounts: an account
// owned by user:<id> whose id is "personal-<id>" or starts with
// "personal-<id>." is personal — its keys are the person's API keys.
// Offboarding revokes them and disables the account; the person's other
// service accounts serve the department and are flagged for a new owner
// instead, so that an integration does not stop the day its owner leaves.
const PersonalAccountPrefix = "personal-"

// PersonalAccountID returns the id of the personal service account of
// the user with id userID.
func PersonalAccountID(userID string) string { return PersonalAccountPrefix + userID }

func isPersonal(a apikey.Account, userID string) bool {
	p := PersonalAccountID(userID)
	return a.Owner == rbac.Subject("user:"+userID) && (a.ID == p || strings.HasPrefix(a.ID, p+"."))
}

// OffboardReport lists what [Service.Offboard] removed.
type OffboardReport struct {
	// Header says what the report evidences (reports.KindOffboarding):
	// the controls, the policy revision of the change, when it was made.
	// GeneratedBy is left for the caller to set.
	Header reports.Header
	User   signin.User
	// Grants are the grants removed: direct, temporary and emergency.
	Grants []rbac.Grant
	// Memberships are the groups and org units the user was taken out of.
	Memberships []rbac.Membership
	// Revision is the policy revision of the change (0 if nothing was
	// granted).
	Revision int64
	// Sessions is how many session records were ended; every session is
	// refused in every process sharing the revocation epochs, counted or
	// not.
	Sessions int
	// RevokedKeys are the ids of the personal API keys revoked.
	RevokedKeys []string
	// DisabledAccounts are the personal service accounts disabled.
	DisabledAccounts []string
	// FlaggedAccounts are the other service accounts the user owned: they
	// keep working and need a new owner (service_account.owner_left was
	// emitted for each).
	FlaggedAccounts []string
}

// Offboard ends everything the employee holds, in this order: the user is
// marked offboarded (no new sign-in), every grant to them (direct,
// temporary and emergency) is revoked and every membership removed in one
// policy change, every session is ended in every process, the keys of
// their personal service accounts are revoked and those accounts
// disabled, and the service accounts they own otherwise are flagged. It
// emits user.offboarded with the counts and returns the report. Each step
// runs even if an earlier one failed; the error joins the failures, and
// calling Offboard again finishes the job (an offboarded user is
// offboarded again without error). reason is recorded on revocations.
func (s *Service) Offboard(ctx context.Context, employeeID, reason string) (OffboardReport, error) {
	if why := checkEmployeeID(employeeID); why != "" {
		return OffboardReport{}, &RecordError{Field: "employee id", Reason: why}
	}
	employeeID = strings.TrimSpace(employeeID)
	defer s.lock(employeeID)()
	if reason, _ = cleanText(reason, MaxPosition, false); reason == "" {
		reason = "offboarded"
	}
	uid := UserID(employeeID)
	u, err := s.users.User(ctx, uid)
	switch {
	case errors.Is(err, signin.ErrNotFound):
		return OffboardReport{}, fmt.Errorf("%w: %q", ErrNotFound, employeeID)
	case err != nil:
		return OffboardReport{}, fmt.Errorf("onboard: offboard %q: %w", employeeID, err)
	case u.EmployeeID != employeeID:
		return OffboardReport{}, fmt.Errorf("%w: %q", ErrNotFound, employeeID)
	}
	rep := OffboardReport{User: u}
	sub := rbac.Subject("user:" + uid)
	var errs []error

	if u.Status != signin.StatusOffboarded {
		u.Status = signin.StatusOffboarded
		if err := s.users.UpdateUser(ctx, u); err != nil {
			errs = append(errs, fmt.Errorf("disable user: %w", err))
		} else {
			rep.User = u
		}
	}
	if err := s.revokeAll(ctx, sub, &rep); err != nil {
		errs = append(errs, err)
	}
	if s.sessions != nil {
		n, err := s.sessions.LogoutEverywhere(ctx, string(sub))
		rep.Sessions = n
		if err != nil {
			errs = append(errs, fmt.Errorf("end sessions: %w", err))
		}
	}
	if s.keys != nil {
		if err := s.retireKeys(ctx, uid, reason, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	rep.Header = reports.NewHeader(reports.KindOffboarding, rep.Revision, s.now(), time.Time{}, time.Time{})
	s.emit(ctx, Event{Type: EventUserOffboarded, Subject: sub, Revision: rep.Revision, Detail: map[string]string{
		"employee":          employeeID,
		"reason":            reason,
		"grants":            strconv.Itoa(len(rep.Grants)),
		"memberships":       strconv.Itoa(len(rep.Memberships)),
		"sessions":          strconv.Itoa(rep.Sessions),
		"keys_revoked":      strconv.Itoa(len(rep.RevokedKeys)),
		"accounts_disabled": strings.Join(rep.DisabledAccounts, ","),
		"accounts_flagged":  strings.Join(rep.FlaggedAccounts, ","),
		"complete":          strconv.FormatBool(len(errs) == 0),
	}})
	if len(errs) > 0 {
		return rep, fmt.Errorf("onboard: offboard %q incomplete (run it again): %w", employeeID, errors.Join(errs...))
	}
	return rep, nil
}

// revokeAll removes every grant to sub and every membership of sub in one
// change, retrying once if the policy moved under it.
func (s *Service) revokeAll(ctx context.Context, sub rbac.Subject, rep *OffboardReport) error {
	for attempt := 0; ; attempt++ {
		m, _, err := s.src.LoadPolicy(ctx)
		if err != nil {
			return fmt.Errorf("read policy: %w", err)
		}
		var c rbac.Change
		var grants []rbac.Grant
		var members []rbac.Membership
		for _, g := range m.Grants {
			if g.Subject == sub {
				c.ExpectGrants = append(c.ExpectGrants, g)
				c.Revoke = append(c.Revoke, g.Key())
				grants = append(grants, g)
			}
		}
		for _, ms := range m.Members {
			if ms.Member == sub {
				c.Leave = append(c.Leave, ms)
				members = append(members, ms)
			}
		}
		if c.IsZero() {
			return nil
		}
		rev, err := s.w.Apply(ctx, c)
		if err != nil {
			if attempt == 0 && (errors.Is(err, rbac.ErrChanged) || errors.Is(err, rbac.ErrNotFound)) {
				continue
			}
			return fmt.Errorf("revoke grants: %w", err)
		}
		rep.Grants, rep.Memberships, rep.Revision = grants, slices.Clone(members), rev
		return nil
	}
}

// retireKeys revokes personal keys and flags owned service accounts.
func (s *Service) retireKeys(ctx context.Context, uid, reason string, rep *OffboardReport) error {
	accounts, err := s.keys.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("list service accounts: %w", err)
	}
	owner := rbac.Subject("user:" + uid)
	var errs []error
	for _, a := range accounts {
		if a.Owner != owner {
			continue
		}
		if !isPersonal(a, uid) {
			rep.FlaggedAccounts = append(rep.FlaggedAccounts, a.ID)
			s.emit(ctx, Event{Type: EventAccountOwnerLeft, Subject: a.Subject(), Detail: map[string]string{
				"account": a.ID, "owner": string(owner), "department": a.Department}})
			continue
		}
		keys, err := s.keys.Keys(ctx, a.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("list keys of %s: %w", a.ID, err))
			continue
		}
		for _, k := range keys {
			if !k.Revoked.IsZero() {
				continue
			}
			if err := s.keys.Revoke(ctx, k.ID, reason); err != nil {
				errs = append(errs, fmt.Errorf("revoke key %s: %w", k.ID, err))
				continue
			}
			rep.RevokedKeys = append(rep.RevokedKeys, k.ID)
		}
		if a.Status != apikey.AccountDisabled {
			if err := s.keys.DisableAccount(ctx, a.ID, reason); err != nil {
				errs = append(errs, fmt.Errorf("disable %s: %w", a.ID, err))
				continue
			}
			rep.DisabledAccounts = append(rep.DisabledAccounts, a.ID)
		}
	}
	return errors.Join(errs...)
}
