package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Example runs the command line as a script would: init, a role from a
// template, a grant, and two checks whose exit codes say allowed (0) and
// denied (1).
func Example() {
	dir, err := os.MkdirTemp("", "iam-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	env := map[string]string{"IAM_DB": filepath.Join(dir, "city.db")}
	iam := func(args ...string) {
		code := run(context.Background(), args, os.Stdin, os.Stdout, os.Stdout, func(k string) string { return env[k] })
		fmt.Println("exit", code)
	}
	iam("init")
	iam("templates", "apply", "clerk")
	iam("assign", "user:ann", "clerk", "org", "--reason", "statutory clerk")
	iam("check", "user:ann", "clerk.minutes.certify", "org")
	iam("check", "user:ann", "finance.po.approve", "org")
	iam("check", "user:ann", "Finance.PO", "org")
	// Output:
	// store ready
	// exit 0
	// role clerk from template clerk (revision 1)
	// exit 0
	// assigned clerk to user:ann at org (revision 2)
	// exit 0
	// allowed: allowed by an active grant
	// exit 0
	// denied: no grant in force covers this permission at this scope
	// exit 1
	// iam: rbac: invalid permission "Finance.PO": upper-case letter
	// run 'iam help' for usage
	// exit 2
}
