package reports_test

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// walkKeys calls f for every object key in a decoded JSON document.
func walkKeys(v any, f func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			f(k)
			if k != "detail" && k != "labels" { // maps keyed by data, not schema
				walkKeys(e, f)
			}
		}
	case []any:
		for _, e := range x {
			walkKeys(e, f)
		}
	}
}

// Every public report, and the decision types a service returns over
// HTTP, marshal with lower-case snake_case keys, and their times as
// RFC 3339.
func TestReportJSONKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := financeModel()
	m.Grants = append(m.Grants,
		rbac.Grant{Subject: "user:sam", Role: "purchasing-agent", Scope: "org", NotAfter: viewNoon.Add(time.Hour), Reason: "cover"},
		rbac.Grant{Subject: "user:sam", Role: "finance-director", Scope: "dept:parks"})
	env := iamtest.New(t, m)
	env.Clock.Set(viewNoon)
	a := env.Authorizer
	v := a.View()
	comp, err := reports.Compliance(v)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := reports.Certification(v, "dept:parks")
	if err != nil {
		t.Fatal(err)
	}
	acc, err := reports.AccessReview(v, "finance.po.create")
	if err != nil {
		t.Fatal(err)
	}
	loss, err := reports.DryRunRemove(v, "purchasing-agent", "finance.po.create")
	if err != nil {
		t.Fatal(err)
	}
	as, err := reports.Assignments(v, "user:sam")
	if err != nil {
		t.Fatal(err)
	}
	who, _ := a.WhoCan(ctx, "finance.po.create", "org")
	ex, _ := a.Explain(ctx, "user:sam", "finance.po.create", "org")
	act := iam.Activation{ID: "e1", Subject: "user:sam", Role: "eoc", Scope: "org", From: viewNoon, Until: viewNoon.Add(time.Hour), Reason: "flood"}
	rv := reports.EmergencyReview(nil, act)
	for name, x := range map[string]any{"compliance": comp, "certification": cert, "access review": acc, "dry run": loss,
		"assignments": as, "who can": who, "explanation": ex, "activation": act, "review": rv} {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		n := 0
		walkKeys(doc, func(k string) {
			n++
			if !snakeKey.MatchString(k) {
				t.Errorf("%s: key %q is not lower-case snake_case (%s)", name, k, b)
			}
		})
		if n == 0 {
			t.Errorf("%s: no keys: %s", name, b)
		}
	}
	b, _ := json.Marshal(as)
	var back struct {
		Grants []struct {
			Grant struct {
				ValidUntil time.Time `json:"valid_until"`
			} `json:"grant"`
		} `json:"grants"`
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Grants) == 0 || !back.Grants[0].Grant.ValidUntil.Equal(viewNoon.Add(time.Hour)) {
		t.Errorf("valid_until is not an RFC 3339 time: %s (%v)", b, err)
	}
}
