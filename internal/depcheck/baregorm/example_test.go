package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Example builds and runs the program without IAM_TEST_DSN: it says which
// variable to set and exits with status 1. With the variable set to a
// PostgreSQL DSN it prints 1, the answer to SELECT 1 through gorm.
func Example() {
	dir, err := os.MkdirTemp("", "baregorm")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "baregorm")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Printf("build: %v\n%s", err, out)
		return
	}
	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IAM_TEST_DSN=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	fmt.Print(stderr.String())
	if exit, ok := err.(*exec.ExitError); ok {
		fmt.Println("exit status:", exit.ExitCode())
	}
	// Output:
	// baregorm: set IAM_TEST_DSN to a PostgreSQL DSN
	// exit status: 1
}
