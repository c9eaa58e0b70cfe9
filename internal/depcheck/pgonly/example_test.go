package main

import (
	"context"
	"fmt"
	"strings"
)

// Example shows the program's answers when it cannot reach PostgreSQL: with
// no DSN it says which variable to set, and with a DSN naming a port where
// nothing listens it fails at the first connection instead of building an
// Authorizer. With IAM_TEST_DSN pointing at a server, main migrates the
// tables and prints the Authorizer's answer.
func Example() {
	ctx := context.Background()
	fmt.Println(run(ctx, ""))

	err := run(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	fmt.Println("unreachable server refused:", err != nil && strings.Contains(err.Error(), "127.0.0.1"))
	// Output:
	// set IAM_TEST_DSN to a PostgreSQL DSN
	// unreachable server refused: true
}
