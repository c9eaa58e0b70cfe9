package main

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/pgnotify"
	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/adapters/redisstore"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/iam/iamotel"
	"github.com/civic-platform/security/iam/restapi"
	"github.com/civic-platform/security/rbac/templates"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/secrets"
	"github.com/civic-platform/security/session/signin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// policyStore is what iamd needs of the policy store: read, write, and
// write a change's events in its transaction.
type policyStore interface {
	iam.PolicySource
	iam.PolicyWriter
	iam.EventWriter
}

// stores are the stores iamd runs on, and how to close them.
type stores struct {
	notifier iam.Notifier // nil on the embedded store
	policy   policyStore
	identity signin.Store
	keys     apikey.Store
	epochs   session.EpochStore
	close    func() error
}

// run serves until ctx ends. ready, if not nil, is called with the address
// listened on once the server accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready func(addr string)) (err error) {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			err = errors.Join(err, closers[i]())
		}
	}()

	var tp trace.TracerProvider
	if cfg.traceStdout {
		exp, err := stdouttrace.New(stdouttrace.WithWriter(stderr))
		if err != nil {
			return err
		}
		sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
		closers = append(closers, func() error { return sdk.Shutdown(context.WithoutCancel(ctx)) })
		tp = sdk
	}
	var mp metric.MeterProvider
	if cfg.metricsEvery > 0 {
		exp, err := stdoutmetric.New(stdoutmetric.WithWriter(stderr))
		if err != nil {
			return err
		}
		sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(cfg.metricsEvery))))
		closers = append(closers, func() error { return sdk.Shutdown(context.WithoutCancel(ctx)) })
		mp = sdk
	}
	tel, err := iamotel.New(tp, mp)
	if err != nil {
		return err
	}

	st, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	closers = append(closers, st.close)
	sealer, hmacKey, err := loadKeys(cfg)
	if err != nil {
		return err
	}
	audit := iam.SlogSink(log)

	authzOpts := []iam.Option{iam.WithLogger(log), iam.WithMaxStaleness(cfg.maxStaleness),
		iam.WithObserver(tel), iam.WithAuditSink(audit)}
	if st.notifier != nil {
		// Policy changes other processes commit arrive within milliseconds;
		// the poll stays as the fallback while the listener reconnects.
		authzOpts = append(authzOpts, iam.WithNotifier(st.notifier))
	}
	authz, err := iam.New(ctx, st.policy, authzOpts...)
	if err != nil {
		return fmt.Errorf("iamd: policy: %w", err)
	}
	closers = append(closers, authz.Close)
	admin := iam.NewOutboxAdmin(authz, st.policy)
	unwatch, err := tel.WatchAuthorizer(authz)
	if err != nil {
		return err
	}
	closers = append(closers, unwatch)

	sessStore, keyFeed, closeRedis, err := openSessions(cfg)
	if err != nil {
		return err
	}
	closers = append(closers, closeRedis)
	ring, err := sessionKeyring(hmacKey)
	if err != nil {
		return err
	}
	sessions, err := session.New(sessStore, ring, session.WithEpochs(st.epochs), session.WithLogger(log),
		session.WithEventSink(audit), session.WithObserver(tel))
	if err != nil {
		return err
	}
	closers = append(closers, sessions.Close)
	keyOpts := []apikey.Option{apikey.WithLogger(log), apikey.WithEventSink(audit), apikey.WithGrantRevoker(admin)}
	if keyFeed != nil {
		keyOpts = append(keyOpts, apikey.WithFeed(keyFeed))
	}
	keys, err := apikey.New(st.keys, authz, hmacKey, keyOpts...)
	if err != nil {
		return err
	}
	closers = append(closers, keys.Close)
	signins, err := signin.New(st.identity, sealer, signin.WithSessions(signin.ManagerSessions(sessions)),
		signin.WithEvents(tel.Sink(audit)), signin.WithTokenKey(derive(hmacKey, "iamd signin token key v1")))
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, authz, admin, signins, stdout); err != nil {
		return fmt.Errorf("iamd: bootstrap: %w", err)
	}

	mwOpts := []iamhttp.Option{iamhttp.WithSessions(sessions), iamhttp.WithAPIKeys(keys), iamhttp.WithLogger(log), iamhttp.WithTelemetry(tel)}
	if cfg.insecureCookie {
		mwOpts = append(mwOpts, iamhttp.InsecureCookies())
	}
	mw, err := iamhttp.New(authz, mwOpts...)
	if err != nil {
		return err
	}
	set, err := templates.Default()
	if err != nil {
		return err
	}
	apiOpts := []restapi.Option{restapi.WithAdmin(admin), restapi.WithSignIn(signins), restapi.WithSessions(sessions),
		restapi.WithAPIKeys(keys), restapi.WithTemplates(set), restapi.WithTelemetry(tel), restapi.WithLogger(log),
		restapi.WithPasswordChanged(promoteBootstrap(admin))}
	if dir, ok := st.identity.(restapi.UserDirectory); ok {
		apiOpts = append(apiOpts, restapi.WithUsers(dir))
	}
	api, err := restapi.New(authz, mw, apiOpts...)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := notReady(authz.Health()); why != "" {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, why+"\n")
			return
		}
		_, _ = io.WriteString(w, "ready; policy watcher: "+string(authz.Health().Watcher)+"\n")
	})
	mux.Handle("/", api.Handler())

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("iamd: serving", "addr", ln.Addr().String(), "revision", authz.Revision())
	fmt.Fprintf(stdout, "iamd listening on http://%s%s\n", ln.Addr(), restapi.Prefix)
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-served:
		return fmt.Errorf("iamd: serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("iamd: shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("iamd: shutdown: %w", err)
	}
	return nil
}

// notReady says why the process should get no traffic, or "".
func notReady(h iam.Health) string {
	switch {
	case h.Revision <= 0:
		return "policy not loaded"
	case h.Stale:
		return "policy not confirmed current"
	case h.LastConfirmed.IsZero():
		return "policy never confirmed current"
	}
	return ""
}

func openStores(ctx context.Context, cfg config) (stores, error) {
	if cfg.postgresDSN == "" {
		if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
			return stores{}, err
		}
		pol, err := sqlitestore.Open(filepath.Join(cfg.dataDir, "iamd.db"))
		if err != nil {
			return stores{}, err
		}
		db := pol.DB()
		st, err := migrateAndOpen(ctx, db, pol, sqlitestore.Migrate, sqlitestore.MigrateIdentity, sqlitestore.MigrateAPIKeys,
			sqlitestore.MigrateEpochs, sqlitestore.NewIdentityStore, sqlitestore.NewAPIKeyStore,
			func(db *gorm.DB) (session.EpochStore, error) { return sqlitestore.NewEpochs(db) })
		if err != nil {
			pol.Close()
			return stores{}, err
		}
		st.close = pol.Close
		return st, nil
	}
	db, err := gorm.Open(postgres.Open(cfg.postgresDSN), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return stores{}, fmt.Errorf("iamd: postgres: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return stores{}, err
	}
	if err := pgstore.Migrate(ctx, db); err != nil {
		sqlDB.Close()
		return stores{}, err
	}
	if err := pgnotify.Migrate(ctx, db, ""); err != nil {
		sqlDB.Close()
		return stores{}, err
	}
	listener, err := pgnotify.New(cfg.postgresDSN, pgnotify.WithApplicationName("iamd"))
	if err != nil {
		sqlDB.Close()
		return stores{}, err
	}
	pol, err := pgstore.New(db)
	if err != nil {
		sqlDB.Close()
		return stores{}, err
	}
	st, err := migrateAndOpen(ctx, db, pol, func(context.Context, *gorm.DB) error { return nil }, pgstore.MigrateIdentity, pgstore.MigrateAPIKeys,
		pgstore.MigrateEpochs, pgstore.NewIdentityStore, pgstore.NewAPIKeyStore,
		func(db *gorm.DB) (session.EpochStore, error) { return pgstore.NewEpochs(db) })
	if err != nil {
		sqlDB.Close()
		return stores{}, err
	}
	st.close = sqlDB.Close
	st.notifier = listener
	return st, nil
}

func migrateAndOpen(ctx context.Context, db *gorm.DB, pol policyStore,
	migPolicy, migIdentity, migKeys, migEpochs func(context.Context, *gorm.DB) error,
	newIdentity func(*gorm.DB) (signin.Store, error), newKeys func(*gorm.DB) (apikey.Store, error),
	newEpochs func(*gorm.DB) (session.EpochStore, error)) (stores, error) {
	for _, m := range []func(context.Context, *gorm.DB) error{migPolicy, migIdentity, migKeys, migEpochs} {
		if err := m(ctx, db); err != nil {
			return stores{}, fmt.Errorf("iamd: migrate: %w", err)
		}
	}
	id, err := newIdentity(db)
	if err != nil {
		return stores{}, err
	}
	ks, err := newKeys(db)
	if err != nil {
		return stores{}, err
	}
	ep, err := newEpochs(db)
	if err != nil {
		return stores{}, err
	}
	return stores{policy: pol, identity: id, keys: ks, epochs: ep}, nil
}

// openSessions returns the session store (Redis, or this process's memory)
// and, with Redis, the API-key invalidation feed.
func openSessions(cfg config) (session.Store, apikey.Feed, func() error, error) {
	if cfg.redisAddr == "" {
		return session.NewMemoryStore(), nil, func() error { return nil }, nil
	}
	rs, err := redisstore.New(rueidis.ClientOption{InitAddress: []string{cfg.redisAddr}}, redisstore.WithPrefix(cfg.redisPrefix))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("iamd: redis: %w", err)
	}
	return rs, redisstore.NewKeyFeed(rs.Client(), cfg.redisPrefix+"apikeys"), func() error { rs.Close(); return nil }, nil
}

// loadKeys returns the sealer of secrets at rest (the key provider) and the
// API-key HMAC key. In the embedded mode both are generated once in the data
// directory, readable by this user only.
func loadKeys(cfg config) (*secrets.Sealer, []byte, error) {
	var kp *secrets.StaticKeys
	var err error
	switch {
	case cfg.keyFile != "":
		kp, err = secrets.LoadKeyFile(cfg.keyFile)
	case cfg.keysEnv != "":
		kp, err = secrets.ParseKeys(cfg.keysEnv)
	default:
		path := filepath.Join(cfg.dataDir, "keys")
		if err = createOnce(path, func() (string, error) { return secrets.GenerateKey("k1") }); err == nil {
			kp, err = secrets.LoadKeyFile(path)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("iamd: key provider: %w", err)
	}
	sealer, err := secrets.NewSealer(kp)
	if err != nil {
		return nil, nil, err
	}
	hmacPath := cfg.hmacKeyFile
	if hmacPath == "" {
		hmacPath = filepath.Join(cfg.dataDir, "hmac")
		if err := createOnce(hmacPath, func() (string, error) {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return "", err
			}
			return base64.StdEncoding.EncodeToString(b), nil
		}); err != nil {
			return nil, nil, err
		}
	}
	raw, err := os.ReadFile(hmacPath)
	if err != nil {
		return nil, nil, fmt.Errorf("iamd: hmac key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) < apikey.MinHashKey {
		return nil, nil, fmt.Errorf("iamd: hmac key file must hold at least %d bytes in base64", apikey.MinHashKey)
	}
	return sealer, key, nil
}

// createOnce writes the output of gen to path with mode 0600 unless path
// exists.
func createOnce(path string, gen func() (string, error)) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	text, err := gen()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return err
	}
	if _, err := io.WriteString(f, text+"\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// derive returns HMAC-SHA-256(key, label): a key for one purpose, the same
// in every process given the same key.
func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// sessionKeyring derives the session signing key from the shared HMAC key,
// so every process of one deployment verifies every other's tokens.
func sessionKeyring(hmacKey []byte) (*session.Keyring, error) {
	priv := ed25519.NewKeyFromSeed(derive(hmacKey, "iamd session signing key v1"))
	return session.NewKeyring(session.SigningKey{ID: "iamd-1", Alg: session.EdDSA, Private: priv})
}
