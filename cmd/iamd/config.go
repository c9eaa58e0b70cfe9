package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

// config is what iamd is told by flags and the environment.
type config struct {
	listen         string
	postgresDSN    string
	redisAddr      string
	redisPrefix    string
	dataDir        string
	keyFile        string
	keysEnv        string // the text of IAMD_KEYS, if set
	hmacKeyFile    string
	insecureCookie bool
	traceStdout    bool
	metricsEvery   time.Duration
	maxStaleness   time.Duration
}

// parseConfig reads flags from args, with defaults from getenv.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envBool := func(name string) bool {
		b, _ := strconv.ParseBool(getenv(name))
		return b
	}
	var c config
	fs := flag.NewFlagSet("iamd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", env("IAMD_LISTEN", "127.0.0.1:8080"), "address to listen on (IAMD_LISTEN)")
	fs.StringVar(&c.postgresDSN, "postgres", env("IAMD_POSTGRES_DSN", ""), "PostgreSQL DSN for the policy and identity stores; empty: embedded SQLite (IAMD_POSTGRES_DSN)")
	fs.StringVar(&c.redisAddr, "redis", env("IAMD_REDIS_ADDR", ""), "Redis address for sessions and API-key invalidations; empty: in this process (IAMD_REDIS_ADDR)")
	fs.StringVar(&c.redisPrefix, "redis-prefix", env("IAMD_REDIS_PREFIX", "iamd:"), "prefix of iamd's Redis keys and channels (IAMD_REDIS_PREFIX)")
	fs.StringVar(&c.dataDir, "data", env("IAMD_DATA", "iamd-data"), "directory of the embedded store and its generated keys (IAMD_DATA)")
	fs.StringVar(&c.keyFile, "key-file", env("IAMD_KEY_FILE", ""), "key provider: file of id:base64 keys sealing secrets at rest (IAMD_KEY_FILE; or the keys themselves in IAMD_KEYS)")
	fs.StringVar(&c.hmacKeyFile, "hmac-key-file", env("IAMD_HMAC_KEY_FILE", ""), "file holding the API-key HMAC key, 32+ bytes base64 (IAMD_HMAC_KEY_FILE)")
	fs.BoolVar(&c.insecureCookie, "insecure-cookies", envBool("IAMD_INSECURE_COOKIES"), "session cookies without Secure, for HTTP on loopback during development (IAMD_INSECURE_COOKIES)")
	fs.BoolVar(&c.traceStdout, "trace-stdout", envBool("IAMD_TRACE_STDOUT"), "write OpenTelemetry spans to standard error (IAMD_TRACE_STDOUT)")
	fs.DurationVar(&c.metricsEvery, "metrics-stdout", envDuration(getenv, "IAMD_METRICS_STDOUT"), "write OpenTelemetry metrics to standard error at this interval; 0: off (IAMD_METRICS_STDOUT)")
	fs.DurationVar(&c.maxStaleness, "max-staleness", 30*time.Second, "refuse decisions when the policy was not confirmed current for this long")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() != 0 {
		return config{}, fmt.Errorf("iamd: unexpected arguments %q", fs.Args())
	}
	c.keysEnv = getenv("IAMD_KEYS")
	if c.postgresDSN != "" && c.keyFile == "" && c.keysEnv == "" {
		return config{}, errors.New("iamd: with -postgres, give the key provider (-key-file or IAMD_KEYS): generated keys would differ between processes")
	}
	if c.postgresDSN != "" && c.hmacKeyFile == "" {
		return config{}, errors.New("iamd: with -postgres, give -hmac-key-file: every process must hash API keys with the same key")
	}
	if c.metricsEvery < 0 {
		return config{}, errors.New("iamd: -metrics-stdout must not be negative")
	}
	if c.maxStaleness <= 0 {
		return config{}, errors.New("iamd: -max-staleness must be positive")
	}
	return c, nil
}

func envDuration(getenv func(string) string, name string) time.Duration {
	d, _ := time.ParseDuration(getenv(name))
	return d
}
