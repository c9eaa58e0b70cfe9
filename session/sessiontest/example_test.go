package sessiontest_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/session/sessiontest"
)

// Example runs the EpochStore conformance suite over the embedded store's
// epochs, from an unmigrated database. A store's own test does the same
// inside a test function:
//
//	func TestEpochs(t *testing.T) {
//		sessiontest.RunEpochs(t, epochs, migrate, ErrNotMigrated)
//	}
//
// Here the suite runs through testing.RunTests so that its verdict can be
// printed; a failing check prints its --- FAIL lines instead.
func Example() {
	dir, err := os.MkdirTemp("", "epochs")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(filepath.Join(dir, "iam.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	epochs, err := sqlitestore.NewEpochs(store.DB())
	if err != nil {
		fmt.Println(err)
		return
	}
	migrate := func(ctx context.Context) error { return sqlitestore.MigrateEpochs(ctx, store.DB()) }

	ok := runSuite(func(t *testing.T) {
		sessiontest.RunEpochs(t, epochs, migrate, sqlitestore.ErrNotMigrated)
	})
	fmt.Println("embedded store conforms:", ok)
	// Output:
	// embedded store conforms: true
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
