package policytables_test

import (
	"errors"
	"fmt"

	"github.com/civic-platform/security/internal/policytables"
)

// Example shows how a store reports a database that was never migrated:
// it wraps ErrNotMigrated and names the missing table, so a caller tells
// "run Migrate" apart from any other failure with errors.Is.
func Example() {
	err := fmt.Errorf("pgstore: load: table %s: %w", policytables.RevisionTable, policytables.ErrNotMigrated)
	fmt.Println(err)
	fmt.Println("needs Migrate:", errors.Is(err, policytables.ErrNotMigrated))
	// Output:
	// pgstore: load: table iam_policy_revision: policy tables not migrated
	// needs Migrate: true
}
