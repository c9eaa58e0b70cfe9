package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "sqliteonly:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "sqliteonly")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(filepath.Join(dir, "policy.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := sqlitestore.Migrate(ctx, store.DB()); err != nil {
		return err
	}
	authz, err := iam.New(ctx, store)
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
