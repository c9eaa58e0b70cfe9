package main

import (
	"context"
	"fmt"
)

// Example runs the program: a fresh embedded store holds no grants, so the
// one question it asks is answered with a deny.
func Example() {
	if err := run(context.Background()); err != nil {
		fmt.Println("sqliteonly:", err)
	}
	// Output:
	// allowed: false
}
