package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Example runs iamd in this process as a developer does on a laptop: no
// PostgreSQL or Redis, the embedded store and its generated keys in a data
// directory, listening on a loopback port. The health endpoints answer at
// once and the API refuses a caller without a session; cancelling the
// context shuts the server down cleanly.
func Example() {
	dir, err := os.MkdirTemp("", "iamd")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	env := map[string]string{"IAMD_DATA": dir, "IAMD_LISTEN": "127.0.0.1:0"}

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		// The bootstrap administrator's one-time password goes to stdout;
		// this example discards it.
		done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, io.Discard, func(addr string) { ready <- addr })
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		fmt.Println("iamd stopped:", err)
		cancel()
		return
	case <-time.After(60 * time.Second):
		fmt.Println("iamd did not start")
		cancel()
		return
	}

	for _, path := range []string{"/healthz", "/readyz", "/api/v1/users"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			fmt.Println(path, err)
			continue
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode)
	}

	cancel()
	fmt.Println("stopped:", <-done)
	// Output:
	// /healthz 200
	// /readyz 200
	// /api/v1/users 401
	// stopped: <nil>
}
