package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/civic-platform/security/session/apikey"
)

// DefaultKeyChannel is the pub/sub channel of a KeyFeed unless another is
// given.
const DefaultKeyChannel = "civic:apikey:invalidate"

// KeyFeed carries API key invalidations (revocations, rotations, disabled
// accounts) between processes through a Redis pub/sub channel: an
// apikey.Feed for apikey.WithFeed.
//
// Pub/sub delivers only to connected subscribers, so a KeyFeed proves its
// subscription end to end: every interval it publishes a heartbeat that
// only this watcher recognises, and reports Alive when it hears it back.
// A Manager serves cached keys only while those heartbeats keep arriving
// within its staleness bound, and drops its whole cache when the
// subscription is re-established, since messages published while it was
// broken are lost. The stored key (in the SQL store) stays the authority.
type KeyFeed struct {
	client  rueidis.Client
	channel string
}

var _ apikey.Feed = (*KeyFeed)(nil)

// NewKeyFeed returns a feed on client (for example Store.Client) using
// channel, or DefaultKeyChannel if channel is "". Every process of one
// deployment must use the same channel.
func NewKeyFeed(client rueidis.Client, channel string) *KeyFeed {
	if channel == "" {
		channel = DefaultKeyChannel
	}
	return &KeyFeed{client: client, channel: channel}
}

// heartbeat messages start with this byte, which no key id or account
// invalidation does.
const heartbeat = "~"

// Publish implements apikey.Feed.
func (f *KeyFeed) Publish(ctx context.Context, id string) error {
	if id == "" || strings.HasPrefix(id, heartbeat) {
		return errors.New("redisstore: invalid invalidation id")
	}
	return f.client.Do(ctx, f.client.B().Publish().Channel(f.channel).Message(id).Build()).Error()
}

// Watch implements apikey.Feed. It owns one goroutine, the subscription,
// and returns only after it has ended.
func (f *KeyFeed) Watch(ctx context.Context, interval time.Duration, changed func(apikey.Change)) error {
	var raw [12]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	mine := heartbeat + hex.EncodeToString(raw[:])
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	call := func(c apikey.Change) {
		mu.Lock()
		defer mu.Unlock()
		changed(c)
	}
	done := make(chan error, 1)
	go func() {
		done <- f.client.Receive(ctx, f.client.B().Subscribe().Channel(f.channel).Build(), func(m rueidis.PubSubMessage) {
			switch {
			case m.Message == mine:
				call(apikey.Change{Alive: true})
			case strings.HasPrefix(m.Message, heartbeat):
				// another process's heartbeat
			case m.Message != "":
				call(apikey.Change{ID: m.Message})
			}
		})
	}()
	beat := func() {
		bctx, bcancel := context.WithTimeout(ctx, interval)
		defer bcancel()
		if err := f.client.Do(bctx, f.client.B().Publish().Channel(f.channel).Message(mine).Build()).Error(); err != nil && ctx.Err() == nil {
			call(apikey.Change{Down: err})
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	beat()
	for {
		select {
		case <-ctx.Done():
			<-done
			return ctx.Err()
		case err := <-done:
			if err == nil {
				err = errors.New("redisstore: key feed subscription ended")
			}
			return err
		case <-t.C:
			beat()
		}
	}
}
