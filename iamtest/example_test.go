package iamtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
)

// permitsActing is what a service's test looks like: in a real test, t is
// the *testing.T that go test passes to TestPermitsActing.
func permitsActing(t iamtest.TB) {
	env := iamtest.New(t, rbac.Model{
		Roles: []rbac.Role{{ID: "permit-clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
	})
	ctx := iam.ContextWithActor(context.Background(), "user:manager")

	// Bob acts as a clerk for one day.
	until := env.Clock.Now().Add(24 * time.Hour)
	_, err := env.Admin.Assign(ctx, rbac.Grant{Subject: "user:bob", Role: "permit-clerk", Scope: "org", NotAfter: until, Reason: "acting"})
	if err != nil {
		t.Fatalf("Assign: %v", err)
	}
	for _, e := range env.Events.Find(iam.EventRoleAssigned, "user:bob") {
		fmt.Println(e.Type, e.Subject, "by", e.Actor, "role", e.Detail["role"])
	}

	for _, step := range []time.Duration{0, 23 * time.Hour, time.Hour} {
		env.Clock.Advance(step)
		d, err := env.Authorizer.Check(ctx, "user:bob", "permits.application.read", "dept:building")
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		fmt.Println(env.Clock.Now().Sub(until), d.Allowed)
	}
}

// exampleT stands in for a *testing.T, which only go test can make: it runs
// the cleanups New registered when the example ends.
type exampleT struct{ cleanups []func() }

func (t *exampleT) Helper()                        {}
func (t *exampleT) Cleanup(f func())               { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Errorf(format string, a ...any) { fmt.Printf("error: "+format+"\n", a...) }
func (t *exampleT) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (t *exampleT) end() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

func ExampleNew() {
	t := &exampleT{}
	defer t.end()
	permitsActing(t)
	// Output:
	// role.assigned user:bob by user:manager role permit-clerk
	// -24h0m0s true
	// -1h0m0s true
	// 0s false
}
