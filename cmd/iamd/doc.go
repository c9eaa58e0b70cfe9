// Command iamd serves the iam library's REST API (/api/v1, see package
// iam/restapi) for services not written in Go.
//
//	iamd                                  # embedded SQLite in ./iamd-data, sessions in memory
//	iamd -postgres "$DSN" -redis 127.0.0.1:6379 -key-file /etc/iamd/keys -hmac-key-file /etc/iamd/hmac
//
// Every flag has an environment variable (IAMD_LISTEN, IAMD_POSTGRES_DSN,
// IAMD_REDIS_ADDR, IAMD_REDIS_PREFIX, IAMD_DATA, IAMD_KEY_FILE, IAMD_KEYS, IAMD_HMAC_KEY_FILE,
// IAMD_INSECURE_COOKIES, IAMD_TRACE_STDOUT, IAMD_METRICS_STDOUT); a flag given on the command line
// wins.
//
// With nothing configured it runs on the embedded store in the data
// directory, creates its secret keys there (mode 0600) and, the first time,
// a bootstrap administrator (admin@localhost) whose one-time password it
// prints. That account holds no permission until its password is changed
// (POST /api/v1/users/me/password); the change gives it the iam-admin role.
//
// /healthz answers 200 while the process serves; /readyz answers 200 only
// when the policy is loaded and confirmed current within the staleness bound
// (and 503 otherwise), so a load balancer sends no traffic to a process that
// would refuse every decision; its body names the policy watcher's state.
// On PostgreSQL each process LISTENs for policy changes (adapters/pgnotify;
// the trigger is installed at start), so a change another process commits
// reaches it within milliseconds, with the one-second poll as the fallback
// while the listener reconnects. SIGINT and SIGTERM shut down gracefully:
// requests in flight finish (up to 10 s), then the stores close.
//
// Logs are JSON (log/slog) on standard error. -trace-stdout writes
// OpenTelemetry spans, and -metrics-stdout 1m the metrics of iam/iamotel
// (decisions, check latency, reloads, staleness, session cache hits,
// sign-in failures and lockouts, requests) every minute, to standard error;
// a deployment that ships them elsewhere swaps the stdout exporters for its
// own in main.go.
package main
