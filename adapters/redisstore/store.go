package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/civic-platform/security/session"
)

// ErrReplication is wrapped by the error of a deletion that the primary
// made but fewer replicas than asked for ([WithReplicaAck]) confirmed in
// time. The record is gone on the primary; a failover in the next moments
// could bring it back, which the revocation a session.Manager writes to its
// EpochStore first guards against.
var ErrReplication = errors.New("redisstore: deletion not confirmed by replicas")

// Store is a session.Store on Redis. Records are hashes under
// prefix+"s:"+id that expire with the session (at the earlier of its idle
// deadline and its absolute expiry); a set under prefix+"u:"+subject lists
// a subject's session ids.
//
// Reads use Redis server-assisted client-side caching (RESP3 CLIENT
// TRACKING, default mode, through rueidis): Redis tells this process when a
// record it has read changes, is deleted, expires, or the database is
// flushed, whoever did it, and Watch passes that on to the session.Manager's
// cache.
//
// A Store is safe for concurrent use, and several session.Managers may
// share one: each Watch hears every invalidation, including a flush.
// Close it when done.
type Store struct {
	client      rueidis.Client
	prefix      string
	replicas    int64
	waitTimeout time.Duration
	userInval   func([]rueidis.RedisMessage)

	mu       sync.Mutex // serialises calls to watchers
	watchers map[int]watcher
	nextW    int
}

// watcher is one Watch call: its callback, and its kick, which a nil
// invalidation (flushed or disconnected) fills so that this Watch, and
// every other, finds out which.
type watcher struct {
	changed func(session.Change)
	kick    chan struct{}
}

// An Option configures a Store.
type Option func(*Store)

// WithPrefix sets the key prefix ("iam:session:" by default). Processes
// that share sessions must use the same prefix.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithReplicaAck makes every deletion (logout, revocation) wait until n
// replicas hold it (Redis WAIT), for at most timeout, so that a failover
// that promotes one of them cannot bring the session back. Deletions that
// fewer replicas confirm fail with [ErrReplication]. n = 0 (the default)
// does not wait.
func WithReplicaAck(n int, timeout time.Duration) Option {
	return func(s *Store) { s.replicas, s.waitTimeout = int64(n), timeout }
}

// New connects with the client's own options — InitAddress for one
// server, Sentinel (MasterSet) for a replicated primary with automatic
// failover, or several cluster nodes — and returns a Store. It sets
// opt.OnInvalidations to follow client-side-caching invalidations (calling
// a function already there as well) and opt.ClientTrackingOptions (which
// must be nil); opt.DisableCache must be false, PipelineMultiplex 0, and
// the server must speak RESP3 (Redis 6 or later).
func New(opt rueidis.ClientOption, opts ...Option) (*Store, error) {
	s := &Store{prefix: "iam:session:", watchers: map[int]watcher{}, userInval: opt.OnInvalidations}
	for _, o := range opts {
		o(s)
	}
	if opt.DisableCache {
		return nil, fmt.Errorf("%w: redisstore needs client-side caching (DisableCache must be false)", session.ErrInvalidInput)
	}
	if opt.ClientTrackingOptions != nil {
		return nil, fmt.Errorf("%w: redisstore sets ClientTrackingOptions itself", session.ErrInvalidInput)
	}
	// Default tracking mode: Redis remembers every key a connection reads
	// and tells that connection when the key changes. A plain HGETALL is
	// then a tracked read (OPTIN mode, rueidis's default, needs CLIENT
	// CACHING YES, MULTI, PTTL and EXEC around it: five commands, and a
	// tail ten times longer in BenchmarkLookupMiss).
	opt.ClientTrackingOptions = []string{}
	if opt.PipelineMultiplex != 0 {
		// Watch identifies the one connection per node that carries reads
		// and their invalidations.
		return nil, fmt.Errorf("%w: redisstore needs PipelineMultiplex 0", session.ErrInvalidInput)
	}
	if s.replicas < 0 || (s.replicas > 0 && s.waitTimeout <= 0) {
		return nil, fmt.Errorf("%w: WithReplicaAck needs n >= 0 and a positive timeout", session.ErrInvalidInput)
	}
	opt.OnInvalidations = s.invalidated
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redisstore: connect: %w", err)
	}
	s.client = c
	return s, nil
}

// Close closes the client.
func (s *Store) Close() { s.client.Close() }

// Client returns the underlying client, for health checks and tests.
func (s *Store) Client() rueidis.Client { return s.client }

func (s *Store) recKey(id string) string     { return s.prefix + "s:" + id }
func (s *Store) subKey(sub string) string    { return s.prefix + "u:" + sub }
func ms(t time.Time) string                  { return strconv.FormatInt(t.UnixMilli(), 10) }
func deadlineMs(sess session.Session) string { return ms(sess.IdleDeadline()) }

// The record's "v" field holds the session's fixed fields as text
// separated by the unit separator (0x1f), which a subject cannot contain
// (session.Start refuses control characters), after a format version:
//
//	1 id sub created expires idle methods level mfa agent net
//
// with times as Unix ns, the idle timeout in ns, the fingerprints in hex
// (empty when not recorded). New fields may be appended within version 1.
// Parsing it takes no reflection, which keeps a store read cheap.
const (
	sep           = "\x1f"
	recordVersion = "1"
	recordFields  = 11
)

func encode(s session.Session) (string, error) {
	if strings.Contains(s.Subject, sep) || strings.Contains(s.ID, sep) {
		return "", fmt.Errorf("%w: subject or id holds a control character", session.ErrInvalidInput)
	}
	return strings.Join([]string{recordVersion, s.ID, s.Subject,
		strconv.FormatInt(s.Created.UnixNano(), 10), strconv.FormatInt(s.Expires.UnixNano(), 10),
		strconv.FormatInt(int64(s.IdleTimeout), 10), strconv.Itoa(int(s.Methods)), strconv.Itoa(int(s.Level)),
		strconv.Itoa(int(s.MFA)), s.Client.Agent.String(), s.Client.Network.String()}, sep), nil
}

var errCorrupt = errors.New("redisstore: corrupt record")

func decode(fields map[string]string) (session.Session, error) {
	f := strings.Split(fields["v"], sep)
	if len(f) < recordFields || f[0] != recordVersion || f[1] == "" || f[2] == "" {
		return session.Session{}, errCorrupt
	}
	var n [7]int64
	for i, x := range []string{f[3], f[4], f[5], f[6], f[7], f[8], fields["last"]} {
		v, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return session.Session{}, errCorrupt
		}
		n[i] = v
	}
	if n[3] < 0 || n[3] > 255 || n[4] < 0 || n[4] > 255 || n[5] < 0 || n[5] > 255 {
		return session.Session{}, errCorrupt
	}
	s := session.Session{ID: f[1], Subject: f[2], Created: time.Unix(0, n[0]), Expires: time.Unix(0, n[1]),
		IdleTimeout: time.Duration(n[2]), Methods: session.Methods(n[3]), Level: session.Level(n[4]),
		MFA: session.MFA(n[5]), LastSeen: time.Unix(0, n[6])}
	if err := unhex(&s.Client.Agent, f[9]); err != nil {
		return session.Session{}, err
	}
	if err := unhex(&s.Client.Network, f[10]); err != nil {
		return session.Session{}, err
	}
	return s, nil
}

func unhex(f *session.Fingerprint, h string) error {
	if h == "" {
		return nil
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(f) {
		return errors.New("redisstore: corrupt record fingerprint")
	}
	copy(f[:], b)
	return nil
}

// createScript stores a record unless the key exists.
// KEYS[1] record; ARGV: json, last (ns), expires (ms), idle (ms), deadline (ms).
var createScript = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'last', ARGV[2], 'exp', ARGV[3], 'idle', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return 1`)

// touchScript moves last and the key's expiry if the record exists, and
// returns the record (or nil).
// KEYS[1] record; ARGV: at (ns), at (ms).
var touchScript = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'last', ARGV[1])
local exp = tonumber(redis.call('HGET', KEYS[1], 'exp'))
local idle = tonumber(redis.call('HGET', KEYS[1], 'idle'))
local deadline = exp
if idle > 0 and tonumber(ARGV[2]) + idle < exp then deadline = tonumber(ARGV[2]) + idle end
redis.call('PEXPIREAT', KEYS[1], deadline)
return redis.call('HGETALL', KEYS[1])`)

// Create adds the id to its subject's index and then stores the record.
// In that order, every record is in the index, so log out everywhere
// (which lists the index) finds it even if the process dies between the
// two writes; an id left in the index without a record is skipped and
// removed by List.
func (s *Store) Create(ctx context.Context, sess session.Session) error {
	v, err := encode(sess)
	if err != nil {
		return fmt.Errorf("redisstore: create: %w", err)
	}
	idx := s.subKey(sess.Subject)
	for _, r := range s.client.DoMulti(ctx,
		s.client.B().Sadd().Key(idx).Member(sess.ID).Build(),
		s.client.B().Pexpireat().Key(idx).MillisecondsTimestamp(sess.Expires.UnixMilli()).Nx().Build(),
		s.client.B().Pexpireat().Key(idx).MillisecondsTimestamp(sess.Expires.UnixMilli()).Gt().Build(),
	) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("redisstore: index: %w", err)
		}
	}
	idle := strconv.FormatInt(sess.IdleTimeout.Milliseconds(), 10)
	n, err := createScript.Exec(ctx, s.client, []string{s.recKey(sess.ID)},
		[]string{v, strconv.FormatInt(sess.LastSeen.UnixNano(), 10), ms(sess.Expires), idle, deadlineMs(sess)}).AsInt64()
	if err != nil {
		return fmt.Errorf("redisstore: create: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: session id already exists", session.ErrInvalidInput)
	}
	return nil
}

// Get reads a record. The connection tracks what it reads, so Redis will
// report when the record changes.
func (s *Store) Get(ctx context.Context, id string) (session.Session, error) {
	fields, err := s.client.Do(ctx, s.client.B().Hgetall().Key(s.recKey(id)).Build()).AsStrMap()
	if err != nil {
		return session.Session{}, fmt.Errorf("redisstore: get: %w", err)
	}
	if len(fields) == 0 {
		return session.Session{}, fmt.Errorf("%w: session", session.ErrNotFound)
	}
	return decode(fields)
}

// Touch records activity at at, if the record exists.
func (s *Store) Touch(ctx context.Context, id string, at time.Time) (session.Session, error) {
	res := touchScript.Exec(ctx, s.client, []string{s.recKey(id)}, []string{strconv.FormatInt(at.UnixNano(), 10), ms(at)})
	fields, err := res.AsStrMap()
	if rueidis.IsRedisNil(err) || (err == nil && len(fields) == 0) {
		return session.Session{}, fmt.Errorf("%w: session", session.ErrNotFound)
	}
	if err != nil {
		return session.Session{}, fmt.Errorf("redisstore: touch: %w", err)
	}
	return decode(fields)
}

// Delete removes the record, waiting for replicas if [WithReplicaAck] asked.
func (s *Store) Delete(ctx context.Context, id string) (session.Session, error) {
	key := s.recKey(id)
	var res []rueidis.RedisResult
	cmds := rueidis.Commands{s.client.B().Hgetall().Key(key).Build(), s.client.B().Del().Key(key).Build()}
	if s.replicas > 0 {
		// WAIT counts the writes of its own connection: one dedicated
		// connection carries the deletion and the WAIT.
		cmds = append(cmds, s.client.B().Wait().Numreplicas(s.replicas).Timeout(s.waitTimeout.Milliseconds()).Build())
		err := s.client.Dedicated(func(c rueidis.DedicatedClient) error {
			res = c.DoMulti(ctx, cmds...)
			return nil
		})
		if err != nil {
			return session.Session{}, fmt.Errorf("redisstore: delete: %w", err)
		}
	} else {
		res = s.client.DoMulti(ctx, cmds...)
	}
	for _, r := range res {
		if err := r.Error(); err != nil {
			return session.Session{}, fmt.Errorf("redisstore: delete: %w", err)
		}
	}
	fields, _ := res[0].AsStrMap()
	deleted, _ := res[1].AsInt64()
	if deleted == 0 || len(fields) == 0 {
		return session.Session{}, fmt.Errorf("%w: session", session.ErrNotFound)
	}
	sess, derr := decode(fields)
	if derr == nil {
		// The index only serves List; a stale entry there is skipped.
		_ = s.client.Do(ctx, s.client.B().Srem().Key(s.subKey(sess.Subject)).Member(id).Build()).Error()
	}
	if s.replicas > 0 {
		if acked, _ := res[2].AsInt64(); acked < s.replicas {
			return sess, fmt.Errorf("%w: %d of %d replicas within %s", ErrReplication, acked, s.replicas, s.waitTimeout)
		}
	}
	if derr != nil {
		return session.Session{ID: id}, nil
	}
	return sess, nil
}

// List returns the subject's records, oldest first.
func (s *Store) List(ctx context.Context, subject string) ([]session.Session, error) {
	idx := s.subKey(subject)
	ids, err := s.client.Do(ctx, s.client.B().Smembers().Key(idx).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make(rueidis.Commands, len(ids))
	for i, id := range ids {
		cmds[i] = s.client.B().Hgetall().Key(s.recKey(id)).Build()
	}
	out := make([]session.Session, 0, len(ids))
	var gone []string
	for i, r := range s.client.DoMulti(ctx, cmds...) {
		fields, err := r.AsStrMap()
		if err != nil {
			return nil, fmt.Errorf("redisstore: list: %w", err)
		}
		if len(fields) == 0 {
			gone = append(gone, ids[i])
			continue
		}
		sess, err := decode(fields)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	if len(gone) > 0 {
		_ = s.client.Do(ctx, s.client.B().Srem().Key(idx).Member(gone...).Build()).Error()
	}
	sortByCreated(out)
	return out, nil
}

func sortByCreated(ss []session.Session) {
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && ss[j].Created.Before(ss[j-1].Created); j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}

// invalidated receives rueidis's client-side-caching invalidations: a list
// of keys, or nil when everything may have changed. rueidis sends nil both
// for a FLUSHALL and when a connection closes; the two need different
// answers (drop everything now, or keep serving within the staleness bound
// until a new connection is up), so nil only wakes Watch to find out which.
func (s *Store) invalidated(keys []rueidis.RedisMessage) {
	if s.userInval != nil {
		s.userInval(keys)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if keys == nil {
		for _, w := range s.watchers {
			select {
			case w.kick <- struct{}{}:
			default:
			}
		}
		return
	}
	rec := s.prefix + "s:"
	for _, k := range keys {
		name, err := k.ToString()
		if err != nil {
			s.broadcast(session.Change{All: true})
			return
		}
		if id, ok := strings.CutPrefix(name, rec); ok {
			s.broadcast(session.Change{SessionID: id})
		}
	}
}

// broadcast calls every watcher; s.mu is held.
func (s *Store) broadcast(c session.Change) {
	for _, w := range s.watchers {
		w.changed(c)
	}
}

// connections returns the CLIENT ID of the connection to each node the
// client uses: the connections that carry our reads and their
// invalidations.
func (s *Store) connections(ctx context.Context) (map[string]int64, error) {
	ids := map[string]int64{}
	for addr, n := range s.client.Nodes() {
		id, err := n.Do(ctx, n.B().ClientId().Build()).AsInt64()
		if err != nil {
			return nil, err
		}
		ids[addr] = id
	}
	if len(ids) == 0 {
		return nil, errors.New("redisstore: no node")
	}
	return ids, nil
}

// Watch passes on invalidations until ctx is done. Every interval (and at
// once when rueidis reports that everything may have changed) it asks each
// node for the id of our connection to it. A reply confirms that the
// invalidations sent before it have arrived (they travel on the same
// connection, ahead of the reply), so it reports Alive. If a connection id
// changed since the last reply (a reconnection or a failover: the
// invalidations in between are lost, and the new connection tracks
// nothing) or the database was flushed, it reports All first. While Redis
// does not answer it reports nothing, so the Manager serves its cache only
// within the staleness bound.
func (s *Store) Watch(ctx context.Context, interval time.Duration, changed func(session.Change)) error {
	kick := make(chan struct{}, 1)
	s.mu.Lock()
	id := s.nextW
	s.nextW++
	s.watchers[id] = watcher{changed: changed, kick: kick}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, id)
		s.mu.Unlock()
	}()
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var last map[string]int64
	kicked := false
	for {
		pctx, cancel := context.WithTimeout(ctx, max(interval, 100*time.Millisecond))
		conns, err := s.connections(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			s.mu.Lock()
			if kicked || (last != nil && !maps.Equal(conns, last)) {
				changed(session.Change{All: true})
			}
			changed(session.Change{Alive: true})
			s.mu.Unlock()
			last, kicked = conns, false
		} else {
			s.mu.Lock()
			changed(session.Change{Down: err})
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-kick:
			kicked = true
		case <-t.C:
		}
	}
}
