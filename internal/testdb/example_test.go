package testdb_test

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/civic-platform/security/internal/testdb"
)

// ExampleName makes the schema or key prefix a test works in: fresh on
// every call, lower case, and safe to splice into DDL, so parallel tests
// and parallel packages never share tables.
func ExampleName() {
	a, b := testdb.Name("pgstore"), testdb.Name("pgstore")
	ident := regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	fmt.Println(strings.HasPrefix(a, "pgstore"), ident.MatchString(a), a != b)
	// Output:
	// true true true
}
