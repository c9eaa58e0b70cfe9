package main

import (
	"context"
	"fmt"
	"os"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/civic-platform/security/adapters/pgnotify"
	"github.com/civic-platform/security/adapters/pgoutbox"
	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/iam"
)

func main() {
	if err := run(context.Background(), os.Getenv("IAM_TEST_DSN")); err != nil {
		fmt.Fprintln(os.Stderr, "pgonly:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dsn string) error {
	if dsn == "" {
		return fmt.Errorf("set IAM_TEST_DSN to a PostgreSQL DSN")
	}
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{})
	if err != nil {
		return err
	}
	if err := pgstore.Migrate(ctx, db); err != nil {
		return err
	}
	if err := pgnotify.Migrate(ctx, db, ""); err != nil {
		return err
	}
	if err := pgoutbox.Migrate(ctx, db); err != nil {
		return err
	}
	store, err := pgstore.New(db)
	if err != nil {
		return err
	}
	listener, err := pgnotify.New(dsn)
	if err != nil {
		return err
	}
	authz, err := iam.New(ctx, store, iam.WithNotifier(listener))
	if err != nil {
		return err
	}
	defer authz.Close()
	d, err := authz.Check(ctx, "user:alice", "permits.application.read", "dept:building")
	if err != nil {
		return err
	}
	fmt.Println("allowed:", d.Allowed)
	return nil
}
