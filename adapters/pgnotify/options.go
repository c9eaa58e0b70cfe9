package pgnotify

import (
	"log/slog"
	"time"
)

// DefaultChannel is the notification channel when [WithChannel] is not
// given.
const DefaultChannel = "iam_policy"

// Defaults of the options.
const (
	DefaultPollInterval    = 30 * time.Second
	DefaultMinBackoff      = 100 * time.Millisecond
	DefaultMaxBackoff      = 10 * time.Second
	DefaultApplicationName = "iam-pgnotify"
)

// An Option configures a [Listener] in [New] or a [CasbinWatcher] in
// [NewCasbinWatcher].
type Option func(*config)

type config struct {
	channel      string
	poll         time.Duration
	minBackoff   time.Duration
	maxBackoff   time.Duration
	appName      string
	queryTimeout time.Duration
	logger       *slog.Logger
}

func defaultConfig() config {
	return config{
		channel:      DefaultChannel,
		poll:         DefaultPollInterval,
		minBackoff:   DefaultMinBackoff,
		maxBackoff:   DefaultMaxBackoff,
		appName:      DefaultApplicationName,
		queryTimeout: 5 * time.Second,
		logger:       slog.Default(),
	}
}

// WithChannel sets the channel to LISTEN on; it must be the channel given
// to [Migrate]. Channels are per database, not per schema: services whose
// policies live in different schemas of one database need different
// channels. A name is 1 to 63 characters of a-z, 0-9 and _, not starting
// with a digit; [New] refuses others.
func WithChannel(name string) Option { return func(c *config) { c.channel = name } }

// WithPollInterval sets how often the listener reads the revision as a
// second line of defence behind notifications (default 30 s), reporting a
// change when it moved. The poll also finds a connection that died
// without an error. d <= 0 turns the poll off.
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.poll = d } }

// WithBackoff sets the reconnection delays: the first retry waits about
// lo, each further one twice as long up to hi, each with up to 50% random
// jitter so that many processes do not reconnect in step. Defaults 100 ms
// and 10 s.
func WithBackoff(lo, hi time.Duration) Option {
	return func(c *config) {
		if lo > 0 {
			c.minBackoff = lo
		}
		if hi > 0 {
			c.maxBackoff = hi
		}
	}
}

// WithApplicationName sets the application_name of the listener's
// connection (default "iam-pgnotify"), which pg_stat_activity shows.
func WithApplicationName(name string) Option { return func(c *config) { c.appName = name } }

// WithLogger sets where reconnections and errors are reported (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}
