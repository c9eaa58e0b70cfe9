package saml_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/civic-platform/security/adapters/redisstore"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/session/saml"
	"github.com/civic-platform/security/session/sso"
)

// leakyTake is a request store whose Take does not delete, so only the
// replay cache stands between a response and its second use.
type leakyTake struct{ *redisstore.SSOStore }

func (l leakyTake) Take(ctx context.Context, key string) ([]byte, error) {
	v, err := l.SSOStore.Take(ctx, key)
	if err == nil {
		_ = l.SSOStore.Put(ctx, key, v, time.Hour)
	}
	return v, err
}

func redisSSO(t *testing.T) *redisstore.SSOStore {
	t.Helper()
	addr, prefix := testdb.RedisAddr(t), testdb.Name("ssosaml")+":"
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return redisstore.NewSSOStore(c, prefix)
}

// TestTwoProcesses: two service providers behind one load balancer share
// their request store and replay cache in Redis. A sign-in begun on one
// finishes on the other; the same response is refused on the first.
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	store := redisSSO(t)
	e := newEnv(t, envOpts{recorder: true, opts: []saml.Option{saml.WithOnceStore(store), saml.WithReplayCache(store)}})
	other, err := saml.New(e.cfg, e.svc, e.spOpts...)
	if err != nil {
		t.Fatal(err)
	}
	m := e.message(t) // begun on the first process
	e.acs = other.ACS
	m.post(t, m.bytes(t))
	if got, ok := e.rec.last(); ok != 1 {
		t.Fatalf("sign-in finished on the other process refused: %v", got)
	}
	e.acs = e.sp.ACS
	m.post(t, m.bytes(t))
	if got, ok := e.rec.last(); ok != 1 || !errors.Is(got, saml.ErrRequest) {
		t.Fatalf("second use on the first process: %v (signed in %d), want ErrRequest", got, ok)
	}
}

// TestReplayAcrossProcesses: even if the request were accepted twice, the
// shared replay cache refuses the assertion on the second process.
func TestReplayAcrossProcesses(t *testing.T) {
	t.Parallel()
	store := redisSSO(t)
	opts := []saml.Option{saml.WithOnceStore(leakyTake{store}), saml.WithReplayCache(store)}
	e := newEnv(t, envOpts{recorder: true, opts: opts})
	other, err := saml.New(e.cfg, e.svc, e.spOpts...)
	if err != nil {
		t.Fatal(err)
	}
	m := e.message(t)
	m.post(t, m.bytes(t))
	e.acs = other.ACS
	m.post(t, m.bytes(t))
	if got, ok := e.rec.last(); ok != 1 || !errors.Is(got, saml.ErrReplay) {
		t.Fatalf("replay on the other process: %v (signed in %d), want ErrReplay", got, ok)
	}
}

var _ sso.ReplayCache = (*redisstore.SSOStore)(nil)
