package iam_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

// sentinels are the errors a caller branches on. Each failing path
// matches exactly one of them; ErrStepUp is a kind of ErrDenied and
// rbac.ErrEmergency a kind of ErrInvalidInput, so they are checked as
// refinements, not counted.
var sentinels = []error{iam.ErrDenied, iam.ErrInvalidInput, iam.ErrNotFound, iam.ErrExists, iam.ErrConflict,
	iam.ErrChanged, iam.ErrClosed, iam.ErrReadOnly, iam.ErrStale, iam.ErrFallbackMismatch}

// Every failing path of the facade, the Admin and the reports returns an
// error that matches exactly one sentinel, maps to a status other than
// 500, and has a public message that reveals none of its detail.
func TestEveryErrorMatchesExactlyOneSentinel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newLCClock(noon)
	a, _ := newLifecycle(t, sodCity(), clk)
	ad := iam.AdminOf(a)
	if _, err := ad.ActivateEmergency(ctx, "user:eve", "eoc", "org", time.Hour, "drill"); err != nil {
		t.Fatal(err)
	}
	closed, _ := newLifecycle(t, sodCity(), clk)
	closed.Close()
	stale, err := iam.New(ctx, iamtest.NewStore(sodCity()), iam.WithClock(time.Now), iam.WithMaxStaleness(time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stale.Close() })
	time.Sleep(time.Millisecond)
	mfa, err := iam.New(ctx, iamtest.NewStore(sodCity()), iam.WithMFARequired("finance.po.*"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mfa.Close() })
	refused, _ := iam.NewScoper(iam.DataScopes{Rules: []iam.DataRule{{Role: "ghost", Permission: "finance.po.read", Rule: "ward = subject.ward"}}})

	fran := iam.Grant{Subject: "user:fran", Role: "finance-director", Scope: "dept:finance"}
	type path struct {
		name string
		want error
		run  func() error
	}
	second := func(_ any, err error) error { return err }
	paths := []path{
		{"check malformed subject", iam.ErrInvalidInput, func() error { return second(a.Check(ctx, "alice", "finance.po.read", "org")) }},
		{"check malformed permission", iam.ErrInvalidInput, func() error { return second(a.Check(ctx, "user:a", "finance.*", "org")) }},
		{"check malformed scope", iam.ErrInvalidInput, func() error { return second(a.Check(ctx, "user:a", "finance.po.read", "dept:a;b")) }},
		{"require denied", iam.ErrDenied, func() error { return a.Require(ctx, "user:nobody", "finance.po.read", "org") }},
		{"require step-up", iam.ErrDenied, func() error {
			err := iam.RequireAuthenticated(ctx, mfa, iam.Authn{Subject: "user:fran"}, "finance.po.read", "dept:finance")
			if !errors.Is(err, iam.ErrStepUp) {
				t.Errorf("step-up: %v, want ErrStepUp (a kind of ErrDenied)", err)
			}
			return err
		}},
		{"explain malformed", iam.ErrInvalidInput, func() error { return second(a.Explain(ctx, "user:", "finance.po.read", "org")) }},
		{"check many malformed", iam.ErrInvalidInput, func() error {
			return second(a.CheckMany(ctx, []iam.Request{{Subject: "user:a", Permission: "x", Scope: "org"}}))
		}},
		{"closed", iam.ErrClosed, func() error { return second(closed.Check(ctx, "user:a", "finance.po.read", "org")) }},
		{"stale", iam.ErrStale, func() error { return second(stale.Check(ctx, "user:a", "finance.po.read", "org")) }},
		{"filter with a refused scoper", iam.ErrInvalidInput, func() error { return second(a.Filter(ctx, "user:fran", "finance.po.read", refused)) }},
		{"assign a missing role", iam.ErrNotFound, func() error {
			return second(ad.Assign(ctx, iam.Grant{Subject: "user:zed", Role: "ghost", Scope: "org"}))
		}},
		{"assign a malformed role", iam.ErrInvalidInput, func() error {
			return second(ad.Assign(ctx, iam.Grant{Subject: "user:zed", Role: "Ghost Role", Scope: "org"}))
		}},
		{"assign twice", iam.ErrExists, func() error { return second(ad.Assign(ctx, fran)) }},
		{"assign twice, another window", iam.ErrExists, func() error {
			g := fran
			g.NotAfter = noon.Add(time.Hour)
			return second(ad.Assign(ctx, g))
		}},
		{"assign across a conflict rule", iam.ErrConflict, func() error {
			return second(ad.Assign(ctx, iam.Grant{Subject: "user:fran", Role: "purchasing-agent", Scope: "dept:finance"}))
		}},
		{"revoke a missing grant", iam.ErrNotFound, func() error {
			return second(ad.Revoke(ctx, iam.GrantKey{Subject: "user:zed", Role: "auditor", Scope: "org"}, "x"))
		}},
		{"apply an empty change", iam.ErrInvalidInput, func() error { return second(ad.Apply(ctx, iam.Change{})) }},
		{"apply a stale precondition", iam.ErrChanged, func() error {
			g := fran
			g.Reason = "not what is stored"
			return second(ad.Apply(ctx, iam.Change{Revoke: []iam.GrantKey{fran.Key()}, ExpectGrants: []iam.Grant{g}}))
		}},
		{"delete a role still granted", iam.ErrInvalidInput, func() error {
			return second(ad.Apply(ctx, iam.Change{DeleteRoles: []iam.RoleID{"finance-director"}}))
		}},
		{"delete a missing role", iam.ErrNotFound, func() error { return second(ad.Apply(ctx, iam.Change{DeleteRoles: []iam.RoleID{"ghost"}})) }},
		{"inherit a missing role", iam.ErrNotFound, func() error {
			return second(ad.Apply(ctx, iam.Change{PutRoles: []iam.Role{{ID: "new", Inherits: []iam.RoleID{"ghost"}}}}))
		}},
		{"conflict rule naming a missing role", iam.ErrNotFound, func() error {
			return second(ad.Apply(ctx, iam.Change{PutConflicts: []iam.ConflictRule{{ID: "x", Roles: [2]iam.RoleID{"auditor", "ghost"}}}}))
		}},
		{"leave a group one is not in", iam.ErrNotFound, func() error {
			return second(ad.Apply(ctx, iam.Change{Leave: []iam.Membership{{Member: "user:zed", Group: "group:buyers"}}}))
		}},
		{"activate a missing role", iam.ErrNotFound, func() error {
			return second(ad.ActivateEmergency(ctx, "user:eve", "ghost", "org", time.Hour, "x"))
		}},
		{"activate an ordinary role", iam.ErrInvalidInput, func() error {
			return second(ad.ActivateEmergency(ctx, "user:eve", "auditor", "org", time.Hour, "x"))
		}},
		{"activate too long", iam.ErrInvalidInput, func() error {
			return second(ad.ActivateEmergency(ctx, "user:eve", "eoc", "org", 48*time.Hour, "x"))
		}},
		{"activate again while in force", iam.ErrExists, func() error {
			return second(ad.ActivateEmergency(ctx, "user:eve", "eoc", "org", time.Hour, "again"))
		}},
		{"end a missing activation", iam.ErrNotFound, func() error { return second(ad.EndEmergency(ctx, "user:zed", "eoc", "org", "x")) }},
		{"admin without a writer", iam.ErrReadOnly, func() error { return second(iam.NewAdmin(a, nil).Assign(ctx, fran)) }},
		{"admin after close", iam.ErrClosed, func() error { return second(iam.NewAdmin(closed, nil).Assign(ctx, fran)) }},
		{"reaper interval", iam.ErrInvalidInput, func() error { return iam.NewReaper(ad, 0).Run(ctx, 0) }},
		{"certification of a ward", iam.ErrInvalidInput, func() error { return second(reports.Certification(a.View(), "ward:7")) }},
		{"dry run of a missing role", iam.ErrNotFound, func() error { return second(reports.DryRunRemove(a.View(), "ghost", "finance.po.read")) }},
		{"dry run of a missing rule", iam.ErrNotFound, func() error {
			return second(reports.DryRunRemove(a.View(), "auditor", "finance.po.read"))
		}},
		{"access review malformed", iam.ErrInvalidInput, func() error { return second(reports.AccessReview(a.View(), "finance")) }},
		{"report on a closed view", iam.ErrClosed, func() error { return second(reports.Compliance(closed.View())) }},
		{"scoper verify on a stale view", iam.ErrStale, func() error {
			sc, _ := iam.NewScoper(iam.DataScopes{})
			return sc.Verify(stale.View())
		}},
		{"new with a malformed MFA pattern", iam.ErrInvalidInput, func() error {
			return second(iam.New(ctx, iamtest.NewStore(rbac.Model{}), iam.WithMFARequired("finance")))
		}},
	}
	for _, p := range paths {
		err := p.run()
		if err == nil {
			t.Errorf("%s: no error", p.name)
			continue
		}
		var matched []error
		for _, s := range sentinels {
			if errors.Is(err, s) {
				matched = append(matched, s)
			}
		}
		if len(matched) != 1 || matched[0] != p.want {
			t.Errorf("%s: %v matches %v; want exactly %v", p.name, err, matched, p.want)
		}
		if st := iam.HTTPStatus(err); st == http.StatusInternalServerError || st == http.StatusOK {
			t.Errorf("%s: HTTPStatus = %d", p.name, st)
		}
		msg := iam.PublicMessage(err)
		if msg == "" || msg == err.Error() {
			t.Errorf("%s: PublicMessage = %q", p.name, msg)
		}
		for _, secret := range []string{"user:", "fran", "ghost", "eve", "dept:", "revision", "iamtest", "rbac"} {
			if strings.Contains(msg, secret) {
				t.Errorf("%s: PublicMessage %q reveals %q", p.name, msg, secret)
			}
		}
	}
}

// The table in the package documentation, row by row: status and public
// message by sentinel, refinements before their umbrella, context errors
// as unavailable, unknown errors as 500 with nothing of their text.
func TestHTTPStatusAndPublicMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		status int
		msg    string
	}{
		{nil, 200, ""},
		{fmt.Errorf("wrapped: %w", &iam.DeniedError{Subject: "user:a", Reason: "no grant"}), 403, "access denied"},
		{&iam.StepUpError{Subject: "user:a"}, 403, "multi-factor authentication required: verify a second factor and retry"},
		{fmt.Errorf("x: %w", &rbac.InvalidError{Kind: "scope", Value: `"dept:a;b"`}), 400, "invalid request"},
		{&rbac.EmergencyError{}, 400, "invalid request"},
		{&rbac.NotFoundError{Kind: "role", Name: "ghost"}, 404, "not found"},
		{&rbac.ExistsError{Kind: "grant", Name: "user:a r@org"}, 409, "already exists"},
		{&rbac.ConflictError{Rule: "po"}, 409, "refused by a segregation-of-duties rule"},
		{&rbac.ChangedError{}, 409, "changed since it was read: read it again and retry"},
		{iam.ErrReadOnly, 405, "policy changes are not accepted here"},
		{&iam.StaleError{}, 503, "authorization is temporarily unavailable: retry shortly"},
		{iam.ErrClosed, 503, "authorization is temporarily unavailable: retry shortly"},
		{context.DeadlineExceeded, 503, "authorization is temporarily unavailable: retry shortly"},
		{fmt.Errorf("store: %w", context.Canceled), 503, "authorization is temporarily unavailable: retry shortly"},
		{errors.New("pq: password authentication failed for user admin"), 500, "internal error"},
	} {
		if got := iam.HTTPStatus(tc.err); got != tc.status {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.status)
		}
		if got := iam.PublicMessage(tc.err); got != tc.msg {
			t.Errorf("PublicMessage(%v) = %q, want %q", tc.err, got, tc.msg)
		}
	}
}
