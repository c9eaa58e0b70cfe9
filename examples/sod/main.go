package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/civic-platform/security/adapters/pgoutbox"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sod:", err)
		os.Exit(1)
	}
}

// journal is an in-memory audit sink: the example's stand-in for the audit
// service.
type journal struct {
	mu     sync.Mutex
	events []iam.Event
}

func (j *journal) Record(_ context.Context, e iam.Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
	return nil
}

func (j *journal) types() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, e := range j.events {
		out = append(out, e.Type+" "+string(e.Subject))
	}
	return out
}

func run(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp("", "civic-iam-sod-")
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

	// Two roles from the shipped templates.
	set, err := templates.Default()
	if err != nil {
		return err
	}
	director, err := set.Instantiate("finance-director", "finance-director")
	if err != nil {
		return err
	}
	agent, err := set.Instantiate("purchasing-agent", "purchasing-agent")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "roles: %s (%s), %s (%s)\n", director.ID, director.Labels["fr"], agent.ID, agent.Labels["fr"])

	if _, err := store.Replace(ctx, rbac.Model{
		Permissions: set.Permissions(),
		Scopes:      []rbac.ScopeNode{{Scope: "dept:finance"}, {Scope: "dept:parks"}},
		Roles:       []rbac.Role{director, agent},
		Members:     []rbac.Membership{{Member: "user:pat", Group: "group:purchasing"}},
		Grants: []rbac.Grant{
			{Subject: "user:fiona", Role: "finance-director", Scope: "dept:finance"},
			{Subject: "group:purchasing", Role: "purchasing-agent", Scope: "dept:finance"},
		},
	}); err != nil {
		return err
	}

	sink := &journal{}
	authz, err := iam.New(ctx, store, iam.WithAuditSink(sink))
	if err != nil {
		return err
	}
	defer authz.Close()
	// Policy changes are written with their events in one transaction
	// (the store's outbox); the relay below delivers them to the sink.
	admin := iam.NewOutboxAdmin(authz, store)
	ctx = iam.ContextWithActor(ctx, "user:controller")

	// The conflict rule: who raises a purchase order never approves one.
	if _, err := admin.Apply(ctx, iam.Change{PutConflicts: []iam.ConflictRule{
		{ID: "po-create-approve", Description: "who raises a purchase order never approves it",
			Roles: [2]rbac.RoleID{"purchasing-agent", "finance-director"}},
		{ID: "po-perms", Permissions: [2]rbac.Permission{"finance.po.create", "finance.po.approve"}},
	}}); err != nil {
		return err
	}
	fmt.Fprintln(w, "rule added: po-create-approve (purchasing-agent / finance-director)")

	// Pat is away; someone proposes Fiona covers purchasing.
	_, err = admin.Assign(ctx, iam.Grant{Subject: "user:fiona", Role: "purchasing-agent", Scope: "dept:finance", Reason: "cover for pat"})
	if err := explainBlock(w, "assign fiona purchasing-agent", err); err != nil {
		return err
	}
	// Or adds her to the purchasing group.
	_, err = admin.Apply(ctx, iam.Change{Join: []iam.Membership{{Member: "user:fiona", Group: "group:purchasing"}}})
	if err := explainBlock(w, "add fiona to group:purchasing", err); err != nil {
		return err
	}
	// A clerk from parks covers instead: allowed.
	if _, err := admin.Assign(ctx, iam.Grant{Subject: "user:quinn", Role: "purchasing-agent", Scope: "dept:finance", Reason: "cover for pat"}); err != nil {
		return err
	}
	fmt.Fprintln(w, "assign quinn purchasing-agent: ok")

	// A refused change commits nothing, so its events (one per rule it
	// broke) went to the sink at once. Accepted changes wrote theirs to the
	// outbox in the same transaction; relay them.
	refused := len(sink.types())
	relay, err := pgoutbox.New(store.DB(), sink)
	if err != nil {
		return err
	}
	n, err := relay.Drain(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "audit sink: %d events about the 2 refused changes (one per rule broken), %d relayed from the outbox\n", refused, n)
	for _, t := range sink.types() {
		fmt.Fprintln(w, "  event:", t)
	}

	rep, err := reports.Compliance(authz.View())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "compliance: %d rules, %d open violations, %d waived\n", len(rep.Rules), rep.Open(), rep.Waived())
	for _, name := range []string{"compliance.csv", "compliance.json"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		write := rep.WriteCSV
		if filepath.Ext(name) == ".json" {
			write = rep.WriteJSON
		}
		if err := errors.Join(write(f), f.Close()); err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "--- %s\n%s", name, b)
	}
	return nil
}

// explainBlock prints why a change was refused, and fails if it was not.
func explainBlock(w io.Writer, what string, err error) error {
	var conflict *iam.ConflictError
	if !errors.As(err, &conflict) {
		return fmt.Errorf("%s: got %v, want a conflict", what, err)
	}
	fmt.Fprintf(w, "%s: blocked by %s\n  first:  %s\n  second: %s\n", what, conflict.Rule, conflict.First, conflict.Second)
	return nil
}
