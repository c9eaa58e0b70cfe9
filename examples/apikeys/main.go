package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/apikey"
)

func main() {
	out := flag.String("out", "", "directory for the report files (default: a temporary directory)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *out); err != nil {
		fmt.Fprintln(os.Stderr, "apikeys:", err)
		os.Exit(1)
	}
}

// clock is the simulated clock shared by the policy and the key manager.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

const day = 24 * time.Hour

// start is day 0 of the simulation; the quarterly review is on day 80.
var start = time.Date(2025, 10, 17, 9, 0, 0, 0, time.UTC)

// service is a service account, the role it is granted, what it calls,
// and how many keys it has.
type service struct {
	id, owner, dept, desc string
	role                  rbac.RoleID
	perm                  rbac.Permission
	keys                  int
}

var services = []service{
	{"permits-portal", "user:ngagnon", "dept:building", "citizen permit portal", "permit-reader", "permits.application.read", 3},
	{"permits-gis", "user:ngagnon", "dept:building", "GIS parcel sync", "permit-reader", "permits.application.read", 3},
	{"crm-sync", "user:mlavoie", "dept:clerk", "311 CRM case sync", "crm-agent", "crm.case.update", 3},
	{"gl-export", "user:fbouchard", "dept:finance", "nightly general ledger export", "gl-reader", "finance.gl.journal.read", 3},
	{"ap-import", "user:fbouchard", "dept:finance", "supplier invoice import", "ap-clerk", "finance.ap.invoice.create", 3},
	{"payroll-bridge", "user:fbouchard", "dept:finance", "payroll provider bridge", "payroll-reader", "hr.payroll.read", 3},
	{"transit-gtfs", "user:kroy", "dept:transit", "GTFS feed publisher", "transit-publisher", "transit.schedule.publish", 3},
	{"fire-cad", "user:jcote", "dept:fire", "dispatch (CAD) integration", "fire-dispatch", "fire.incident.create", 3},
	{"bylaw-mobile", "user:sgirard", "dept:bylaw", "officer mobile app", "bylaw-officer", "bylaw.ticket.create", 3},
	{"it-backup", "user:pmorin", "dept:it", "backup verification", "it-auditor", "it.backup.read", 3},
	{"open-data", "user:pmorin", "dept:it", "open data portal", "open-data", "opendata.dataset.publish", 2},
	{"library-ils", "user:lpelletier", "dept:library", "library system patron sync", "library-sync", "library.patron.read", 2},
}

func policy() rbac.Model {
	var m rbac.Model
	seen := map[rbac.RoleID]bool{}
	for _, s := range services {
		if !seen[s.role] {
			seen[s.role] = true
			m.Roles = append(m.Roles, rbac.Role{ID: s.role, Permissions: []rbac.Permission{s.perm}})
		}
		m.Grants = append(m.Grants, rbac.Grant{Subject: rbac.Subject("svc:" + s.id), Role: s.role, Scope: rbac.Scope(s.dept),
			Reason: s.desc})
	}
	return m
}

// client is a program holding one key and calling with it every day.
type client struct {
	svc     service
	key     string
	keyID   string
	created time.Time
	unused  bool // a key issued but never put to use
}

func run(ctx context.Context, w io.Writer, outDir string) error {
	dir, err := os.MkdirTemp("", "civic-iam-apikeys-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if outDir == "" {
		outDir = dir
	}

	clk := &clock{t: start}
	store, err := sqlitestore.Open(filepath.Join(dir, "iam.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	// Migrations are explicit steps: the policy tables, then the API key tables.
	if err := sqlitestore.Migrate(ctx, store.DB()); err != nil {
		return err
	}
	if err := sqlitestore.MigrateAPIKeys(ctx, store.DB()); err != nil {
		return err
	}
	if _, err := store.Replace(ctx, policy()); err != nil {
		return fmt.Errorf("load the policy: %w", err)
	}
	authz, err := iam.New(ctx, store, iam.WithClock(clk.now))
	if err != nil {
		return err
	}
	defer authz.Close()
	keyStore, err := sqlitestore.NewAPIKeyStore(store.DB())
	if err != nil {
		return err
	}
	serverKey := make([]byte, 32) // in production: from the secret store, the same in every process
	if _, err := rand.Read(serverKey); err != nil {
		return err
	}
	var events eventCounter
	keys, err := apikey.New(keyStore, authz, serverKey, apikey.WithClock(clk.now), apikey.WithEventSink(&events))
	if err != nil {
		return err
	}
	defer keys.Close()

	// Day 0: the accounts, and the first keys of three services, which
	// will approach their rotation deadline by the review.
	var clients []*client
	newKey := func(s service, name string, unused bool) error {
		c, err := keys.CreateKey(ctx, s.id, apikey.KeySpec{Name: name})
		if err != nil {
			return err
		}
		clients = append(clients, &client{svc: s, key: c.Secret, keyID: c.Key.ID, created: c.Key.Created, unused: unused})
		return nil
	}
	for _, s := range services {
		if _, err := keys.CreateAccount(ctx, apikey.Account{ID: s.id, Owner: rbac.Subject(s.owner), Department: s.dept, Description: s.desc}); err != nil {
			return err
		}
	}
	for _, s := range services[:3] {
		if err := newKey(s, "production", false); err != nil {
			return err
		}
	}
	// Day 20: two keys issued for a migration that never happened.
	clk.set(start.Add(20 * day))
	if err := newKey(services[9], "dr-site (planned)", true); err != nil {
		return err
	}
	if err := newKey(services[10], "staging mirror (planned)", true); err != nil {
		return err
	}
	// Day 30: the rest of the keys.
	clk.set(start.Add(30 * day))
	for i, s := range services {
		n := s.keys
		if i < 3 {
			n--
		}
		if i == 9 || i == 10 {
			n--
		}
		for j := range n {
			if err := newKey(s, fmt.Sprintf("worker-%d", j+1), false); err != nil {
				return err
			}
		}
	}
	accts, _ := keys.Accounts(ctx)
	fmt.Fprintf(w, "day 30: %d service accounts, %d keys\n", len(accts), len(clients))

	// Days 0-79: traffic. Each working key calls four times a day; last use
	// is kept in memory and written in batches (here once a simulated day).
	calls := 0
	traffic := func(d int) error {
		for _, c := range clients {
			if c.unused || start.Add(time.Duration(d)*day).Before(c.created) {
				continue
			}
			for h := range 4 {
				clk.set(start.Add(time.Duration(d)*day + time.Duration(6*h)*time.Hour))
				if _, err := keys.Authorize(ctx, c.key, c.svc.perm, rbac.Scope(c.svc.dept)); err != nil {
					return fmt.Errorf("day %d: %s: %w", d, c.svc.id, err)
				}
				calls++
			}
		}
		return keys.Flush(ctx)
	}
	for d := 0; d < 80; d++ {
		if err := traffic(d); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "days 0-79: %d authorized calls\n", calls)

	// Day 80: the quarterly review.
	clk.set(start.Add(80 * day))
	before, err := keys.Report(ctx, apikey.ReportOptions{})
	if err != nil {
		return err
	}
	s := before.Summary
	fmt.Fprintf(w, "review on day 80: active keys %d, accounts %d, due soon %d, overdue %d, unused 60+ days %d\n",
		s.ActiveKeys, s.Accounts, s.DueSoon, s.Overdue, s.Unused)
	var due []apikey.ReportRow
	for _, r := range before.Rows {
		switch {
		case r.Rotation == apikey.RotationDue:
			due = append(due, r)
			fmt.Fprintf(w, "  due: %s %q of %s, rotation due %s\n", r.Key, r.Name, r.Account, r.RotationDue.Format("2006-01-02"))
		case r.Unused:
			fmt.Fprintf(w, "  unused: %s %q of %s (owner %s), never used since %s\n", r.Key, r.Name, r.Account, r.Owner, r.Created.Format("2006-01-02"))
		}
	}

	// Rotate the due keys; each client keeps its old key for 4 days, then
	// switches. The overlap is 7 days.
	next := map[string]apikey.Created{}
	oldSecrets := map[string]string{}
	for _, c := range clients {
		oldSecrets[c.keyID] = c.key
	}
	for _, r := range due {
		c, err := keys.Rotate(ctx, r.Key, 0)
		if err != nil {
			return err
		}
		next[r.Key] = c
	}
	fmt.Fprintf(w, "rotated %d keys; old keys valid until %s\n", len(next), clk.now().Add(apikey.DefaultOverlap).Format("2006-01-02 15:04"))
	failures := 0
	for d := 80; d < 88; d++ {
		for _, c := range clients {
			n, rotated := next[c.keyID]
			if !rotated {
				continue
			}
			if d == 84 { // the client is redeployed with the new key
				fmt.Fprintf(w, "day %d: %s switches to its new key\n", d, c.svc.id)
				c.key, c.keyID = n.Secret, n.Key.ID
			}
			clk.set(start.Add(time.Duration(d)*day + 12*time.Hour))
			if _, err := keys.Authorize(ctx, c.key, c.svc.perm, rbac.Scope(c.svc.dept)); err != nil {
				failures++
				fmt.Fprintf(w, "day %d: %s refused: %v\n", d, c.svc.id, err)
			}
		}
		if err := keys.Flush(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "days 80-87: failed calls during the rotations: %d\n", failures)

	// After the deadline the old keys stop by time alone.
	clk.set(start.Add(88 * day))
	for _, r := range due {
		old := r.Key
		_, err := keys.Verify(ctx, oldSecrets[old])
		fmt.Fprintf(w, "day 88: old key %s: %v (retired: %t)\n", old, err, errors.Is(err, apikey.ErrRetired))
	}

	// The quarterly report.
	after, err := keys.Report(ctx, apikey.ReportOptions{})
	if err != nil {
		return err
	}
	csvPath, jsonPath := filepath.Join(outDir, "apikeys-report.csv"), filepath.Join(outDir, "apikeys-report.json")
	if err := writeFile(csvPath, after.WriteCSV); err != nil {
		return err
	}
	if err := writeFile(jsonPath, after.WriteJSON); err != nil {
		return err
	}
	s = after.Summary
	fmt.Fprintf(w, "report on day 88: active keys %d, accounts %d, due soon %d, overdue %d, unused 60+ days %d\n",
		s.ActiveKeys, s.Accounts, s.DueSoon, s.Overdue, s.Unused)
	for _, c := range s.Controls {
		fmt.Fprintf(w, "  evidences %s\n", c)
	}
	fmt.Fprintf(w, "events: %s\n", events.String())
	if outDir != dir {
		fmt.Fprintf(w, "wrote %s and %s\n", csvPath, jsonPath)
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// eventCounter counts events by type.
type eventCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (e *eventCounter) Record(_ context.Context, ev iam.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == nil {
		e.n = map[string]int{}
	}
	e.n[ev.Type]++
	return nil
}

func (e *eventCounter) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := ""
	for _, t := range []string{apikey.EventAccountCreated, apikey.EventKeyCreated, apikey.EventKeyRotated, apikey.EventKeyUsedAfterOverlap} {
		out += fmt.Sprintf("%s=%d ", t, e.n[t])
	}
	return out[:len(out)-1]
}
