package rowgen_test

import (
	"fmt"
	"reflect"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/casbinx/rowgen"
)

// Example draws casbin_rule lines from fuzz data as a plain Casbin
// enforcer could write them, and builds that enforcer: the reference side
// of the differential test (rowgen.Compare asks it and the compiled policy
// every rowgen.Requests question). The same data always gives the same
// lines, so a failing fuzz input replays.
func Example() {
	base, err := casbinx.Lines(rowgen.Base())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("no data gives Base's lines:", reflect.DeepEqual(rowgen.Lines(nil), base))

	data := rowgen.Seeds()[0]
	lines := rowgen.Lines(data)
	fmt.Println("deterministic:", reflect.DeepEqual(lines, rowgen.Lines(data)))
	if _, err := casbinx.NewEnforcerFromLines(lines); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("requests to compare:", len(rowgen.Requests()) > 0)
	// Output:
	// no data gives Base's lines: true
	// deterministic: true
	// requests to compare: true
}
