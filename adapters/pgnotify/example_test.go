package pgnotify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/civic-platform/security/adapters/pgnotify"
	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/iam"
)

// Example wires a service to the shared policy: the store on the service's
// own pool, a Listener on a dedicated connection, and a staleness bound so
// that a service cut off from the database denies rather than serves an
// old policy. It needs a database, so it only compiles here.
func Example() {
	ctx := context.Background()
	dsn := "postgres://iam@db.city.internal:5432/iam?sslmode=verify-full"

	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{})
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	// In the migration step, not at every start:
	//	pgstore.Migrate(ctx, db); pgnotify.Migrate(ctx, db, pgnotify.DefaultChannel)
	store, err := pgstore.New(db)
	if err != nil {
		fmt.Println("store:", err)
		return
	}
	listener, err := pgnotify.New(dsn, pgnotify.WithApplicationName("permits-api iam"))
	if err != nil {
		fmt.Println("listener:", err)
		return
	}
	authz, err := iam.New(ctx, store,
		iam.WithNotifier(listener),           // changes arrive in milliseconds
		iam.WithMaxStaleness(30*time.Second), // fail closed if we cannot tell
	)
	if err != nil {
		fmt.Println("authorization unavailable:", err) // never an empty policy
		return
	}
	defer authz.Close()

	handler := func(w http.ResponseWriter, r *http.Request) {
		err := authz.Require(r.Context(), "user:alice", "permits.application.approve", "dept:building")
		switch {
		case err == nil:
			fmt.Fprintln(w, "approved")
		case errors.Is(err, iam.ErrDenied):
			http.Error(w, "forbidden", http.StatusForbidden)
		default: // iam.ErrStale and any other failure: deny too
			http.Error(w, "authorization unavailable", http.StatusServiceUnavailable)
		}
	}
	http.HandleFunc("/approve", handler)
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		h := authz.Health()
		if h.Stale {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintf(w, "revision %d confirmed %s watcher %s\n", h.Revision, h.LastConfirmed.Format(time.RFC3339Nano), h.Watcher)
	})
}
