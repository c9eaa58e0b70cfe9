package ssotest_test

import (
	"flag"
	"fmt"
	"testing"

	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
	"github.com/civic-platform/security/session/sso/ssotest"
)

// Example runs the links conformance suite over the memory stores. A
// store's own test does the same inside a test function:
//
//	func TestLinks(t *testing.T) {
//		ssotest.RunLinks(t, func(t testing.TB) (sso.Links, signin.Users) { return newLinks(t) })
//	}
//
// Here the suite runs through testing.RunTests so that its verdict can be
// printed; a failing check prints its --- FAIL lines instead.
func Example() {
	ok := runSuite(func(t *testing.T) {
		ssotest.RunLinks(t, func(testing.TB) (sso.Links, signin.Users) { return sso.NewMemLinks(), signin.NewMemStore() })
	})
	fmt.Println("memory stores conform:", ok)
	// Output:
	// memory stores conform: true
}

// runSuite runs suite as one test named TestSuite with all its subtests,
// whatever -run and -v the example was started with.
func runSuite(suite func(*testing.T)) bool {
	for name, value := range map[string]string{"test.run": "^TestSuite$", "test.skip": "", "test.v": "false"} {
		if f := flag.Lookup(name); f != nil {
			old := f.Value.String()
			_ = f.Value.Set(value)
			defer func() { _ = f.Value.Set(old) }()
		}
	}
	match := func(pat, str string) (bool, error) { return pat == "^TestSuite$" && str == "TestSuite", nil }
	return testing.RunTests(match, []testing.InternalTest{{Name: "TestSuite", F: suite}})
}
