package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/civic-platform/security/adapters/redisstore"
	"github.com/civic-platform/security/session"
)

// A service on a Sentinel-managed Redis: deletions wait for a replica, and
// revocations persist in the policy store (epochs: pgstore.NewEpochs(db) in
// production). Not run: it needs a Sentinel.
func ExampleNew() {
	store, err := redisstore.New(rueidis.ClientOption{
		InitAddress: []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"},
		Sentinel:    rueidis.SentinelOption{MasterSet: "civic-sessions"},
	}, redisstore.WithReplicaAck(1, time.Second))
	if err != nil {
		fmt.Println("sessions:", err)
		return
	}
	defer store.Close()
	key, err := session.GenerateKey(session.EdDSA, "2026-03")
	if err != nil {
		fmt.Println(err)
		return
	}
	keys, err := session.NewKeyring(key)
	if err != nil {
		fmt.Println(err)
		return
	}
	var epochs session.EpochStore = session.NewMemoryEpochs() // pgstore.NewEpochs(db)
	sessions, err := session.New(store, keys, session.WithAudience("permits"), session.WithEpochs(epochs))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sessions.Close()
	if _, err := sessions.Verify(context.Background(), "token from the request"); errors.Is(err, session.ErrInvalidToken) {
		fmt.Println("401")
	}
}
