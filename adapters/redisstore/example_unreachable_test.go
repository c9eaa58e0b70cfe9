package redisstore_test

import (
	"fmt"

	"github.com/redis/rueidis"

	"github.com/civic-platform/security/adapters/redisstore"
)

// ExampleNew_unreachable shows a service whose Redis is down at start-up:
// New connects at once and returns an error, so the service stops instead
// of serving sessions it cannot check. The address is a loopback port
// where nothing listens.
func ExampleNew_unreachable() {
	store, err := redisstore.New(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:1"}})
	if err != nil {
		fmt.Println("sessions unavailable; not serving")
		return
	}
	defer store.Close()
	fmt.Println("serving")
	// Output:
	// sessions unavailable; not serving
}
