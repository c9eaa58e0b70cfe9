package apikeytest_test

import (
	"flag"
	"fmt"
	"testing"

	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/apikey/apikeytest"
)

// Example runs the conformance suite over the memory store. A store's own
// test does the same inside a test function:
//
//	func TestStore(t *testing.T) {
//		apikeytest.Run(t, func(t testing.TB) apikey.Store { return newStore(t) })
//	}
//
// Here the suite runs through testing.RunTests so that its verdict can be
// printed; a failing check prints its --- FAIL lines instead.
func Example() {
	ok := runSuite(func(t *testing.T) {
		apikeytest.Run(t, func(testing.TB) apikey.Store { return apikey.NewMemoryStore() })
	})
	fmt.Println("memory store conforms:", ok)
	// Output:
	// memory store conforms: true
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
