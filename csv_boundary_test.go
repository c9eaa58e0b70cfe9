package security_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOneCSVWriter keeps every CSV the module writes going through
// internal/csvsafe, which neutralises cells a spreadsheet would read as
// formulas: no other package imports encoding/csv.
func TestOneCSVWriter(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasSuffix(f[0], "/internal/csvsafe") {
			continue
		}
		for _, imp := range f[1:] {
			if imp == "encoding/csv" {
				t.Errorf("%s imports encoding/csv; write CSV through internal/csvsafe", f[0])
			}
		}
	}
}
