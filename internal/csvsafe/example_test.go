package csvsafe_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/civic-platform/security/internal/csvsafe"
)

// ExampleWrite exports rows whose cells a spreadsheet would otherwise
// evaluate: a formula, a full-width equals sign and a leading dash are
// written as text with a single-quote prefix; ordinary cells are unchanged.
func ExampleWrite() {
	rows := [][]string{
		{"subject", "note"},
		{"user:alice", "=HYPERLINK(\"http://evil.example\")"},
		{"user:bob", "＝1+1"},
		{"user:carol", "-2"},
		{"user:dave", "ward 7, desk 2"},
	}
	if err := csvsafe.Write(os.Stdout, rows); err != nil {
		fmt.Println(err)
	}
	// Output:
	// subject,note
	// user:alice,"'=HYPERLINK(""http://evil.example"")"
	// user:bob,'＝1+1
	// user:carol,'-2
	// user:dave,"ward 7, desk 2"
}

// ExampleReader reads a Casbin-style policy file with line numbers, and
// refuses an input larger than its limit without holding it in memory.
func ExampleReader() {
	in := "# roles\np, role:clerk, permits.application.read\ng, user:alice, role:clerk\n"
	r := csvsafe.NewReader(strings.NewReader(in), 1<<20).Lines()
	for {
		rec, line, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(line, rec)
	}

	big := csvsafe.NewReader(strings.NewReader(strings.Repeat("a,b\n", 100)), 64)
	for {
		if _, _, err := big.Read(); err != nil {
			fmt.Println(errors.Is(err, csvsafe.ErrTooLarge))
			break
		}
	}
	// Output:
	// 2 [p role:clerk permits.application.read]
	// 3 [g user:alice role:clerk]
	// true
}
