package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/apikey"
)

// cli runs the command line against env and returns the exit code and
// what it printed.
type cli struct {
	t   *testing.T
	env map[string]string
}

func (c cli) run(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return c.env[k] })
	return code, out.String(), errb.String()
}

// want runs args and fails unless the exit code is code and stdout holds
// every string in has.
func (c cli) want(code int, args []string, has ...string) string {
	c.t.Helper()
	got, out, errs := c.run("", args...)
	if got != code {
		c.t.Fatalf("iam %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out, errs)
	}
	for _, h := range has {
		if !strings.Contains(out, h) {
			c.t.Fatalf("iam %s: output lacks %q:\n%s", strings.Join(args, " "), h, out)
		}
	}
	return out
}

const policyFile = `# a city's policy, as iam export writes it
g3, dept:bylaw, org
g3, dept:parks, org
g3, dept:finance, org
g2, role:crm-agent, meta:role
g2, role:crm-agent, allow:crm.citizen.read
g2, role:crm-agent, allow:crm.citizen.sin.view
`

func TestEveryCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "city.db")
	c := cli{t: t, env: map[string]string{"IAM_DB": db, "IAM_ACTOR": "user:admin", "IAM_APIKEY_KEY": strings.Repeat("ab", 32)}}
	c.want(0, []string{"init"}, "store ready")
	c.want(0, []string{"init"}, "store ready") // idempotent

	// Policy import from Casbin lines, with a dry run first.
	pf := filepath.Join(dir, "policy.csv")
	if err := os.WriteFile(pf, []byte(policyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	c.want(0, []string{"import", pf, "--dry-run"}, "roles: 1 put", "dry run")
	c.want(0, []string{"roles"}) // still nothing
	c.want(0, []string{"import", pf}, "imported (revision 1)")
	c.want(0, []string{"import", pf}, "nothing to change")

	// Templates.
	c.want(0, []string{"templates"}, "bylaw-officer", "By-law Enforcement Officer")
	c.want(0, []string{"templates", "--lang", "fr"}, "Agent d'application des règlements municipaux")
	for _, tmpl := range []string{"bylaw-officer", "purchasing-agent", "finance-director", "planner", "emergency-operations"} {
		c.want(0, []string{"templates", "apply", tmpl}, "role "+tmpl)
	}
	c.want(0, []string{"roles", "--lang", "fr"}, "Agent d'application", "crm-agent")

	// Assign, check, explain, who-can, revoke.
	c.want(0, []string{"assign", "user:sam", "purchasing-agent", "dept:finance", "--reason", "buyer"}, "assigned purchasing-agent")
	c.want(0, []string{"check", "user:sam", "finance.po.create", "dept:finance"}, "allowed")
	c.want(1, []string{"check", "user:sam", "finance.po.approve", "dept:finance"}, "denied")
	c.want(0, []string{"explain", "user:sam", "finance.po.create", "dept:finance"}, "path: user:sam → grant purchasing-agent at dept:finance")
	out := c.want(0, []string{"check", "user:sam", "finance.po.create", "dept:finance", "-o", "json"})
	var dec map[string]any
	if err := json.Unmarshal([]byte(out), &dec); err != nil || dec["allowed"] != true {
		t.Fatalf("check json: %v %s", err, out)
	}
	c.want(0, []string{"who-can", "finance.po.create", "dept:finance"}, "purchasing-agent", "user:sam")
	c.want(0, []string{"who-can", "finance.po.create", "dept:finance", "-o", "csv"}, "kind,name,path")
	c.want(0, []string{"assign", "user:kim", "planner", "dept:parks", "--until", "2099-01-01"}, "assigned planner")
	c.want(0, []string{"revoke", "user:kim", "planner", "dept:parks", "--reason", "moved"}, "revoked planner")

	// Segregation of duties: refused, exit 2 with the rule named; the
	// report is clean.
	seedConflictRule(t, db)
	code, _, errs := c.run("", "assign", "user:sam", "finance-director", "dept:finance")
	if code != 2 || !strings.Contains(errs, "po-create-approve") {
		t.Fatalf("conflicting assign: exit %d, %s", code, errs)
	}
	c.want(0, []string{"report", "sod"}, "evidence", "CC6.3", "A.5.3")

	// Emergency access, and its review from the outbox.
	c.want(0, []string{"emergency", "activate", "user:eve", "emergency-operations", "org", "--window", "2h", "--reason", "flood"}, "emergency access emergency-operations")
	c.want(0, []string{"check", "user:eve", "publicworks.road.close", "org"}, "allowed")
	c.want(0, []string{"emergency", "end", "user:eve", "emergency-operations", "org", "--reason", "water receding"}, "ended")
	c.want(1, []string{"check", "user:eve", "publicworks.road.close", "org"}, "denied")
	c.want(0, []string{"emergency", "review"}, "evidence", "emergency.review", "A.8.2")
	out = c.want(0, []string{"report", "emergency", "-o", "json"})
	var reviews []map[string]any
	if err := json.Unmarshal([]byte(out), &reviews); err != nil || len(reviews) != 1 || reviews[0]["header"] == nil {
		t.Fatalf("emergency review json: %v %s", err, out)
	}

	// Onboarding, a dry run of an HR feed, the feed, offboarding.
	c.want(0, []string{"onboard", "--dry-run", "--employee-id", "E1042", "--given-name", "Julie", "--family-name", "Tremblay",
		"--email", "julie.tremblay@lakeview.ca", "--position", "Bylaw Officer", "--department", "bylaw", "--language", "fr"}, "joiners 1")
	c.want(0, []string{"onboard", "--employee-id", "E1042", "--given-name", "Julie", "--family-name", "Tremblay",
		"--email", "julie.tremblay@lakeview.ca", "--position", "Bylaw Officer", "--department", "bylaw", "--language", "fr"},
		"joiner: user e1042", "assigned bylaw-officer at dept:bylaw")
	code, _, errs = c.run("", "onboard", "--employee-id", "E2", "--given-name", "A", "--family-name", "B", "--email", "a@b.ca",
		"--position", "Chief Happiness Officer", "--department", "bylaw")
	if code != 2 || !strings.Contains(errs, `unknown position "Chief Happiness Officer"`) {
		t.Fatalf("unknown position: exit %d %s", code, errs)
	}
	feed := filepath.Join(dir, "hr.csv")
	os.WriteFile(feed, []byte("\uFEFFemployee_id,given_name,family_name,email,position,department,start_date,language\n"+
		"E1042,Julie,Tremblay,julie.tremblay@lakeview.ca,Bylaw Officer,parks,,fr\n"+
		"E3001,Ana,Lima,ana.lima@lakeview.ca,Planner,parks,2026-12-01,en\n"), 0o600)
	c.want(0, []string{"hr-import", feed, "--dry-run"}, "joiners 1, movers 1", "~ mover E1042", "+ joiner E3001")
	c.want(0, []string{"hr-import", feed}, "applied")
	c.want(0, []string{"check", "user:e1042", "bylaw.case.read", "dept:parks"}, "allowed")
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("employee_id,given_name,family_name,email,position,department\nE9,\"Ann,Lee,x@y.ca,Clerk,bylaw\n"), 0o600)
	code, out, _ = c.run("", "hr-import", bad, "--dry-run")
	if code != 1 || !strings.Contains(out, "line 2") {
		t.Fatalf("malformed feed: exit %d %s", code, out)
	}
	code, out, _ = c.run("employee_id,given_name,family_name,email,position,department\nE9,Ann,Lee,x@lakeview.ca,Sorcerer,bylaw\n", "hr-import", "-", "--dry-run")
	if code != 1 || !strings.Contains(out, "Sorcerer") {
		t.Fatalf("feed from stdin with an unknown position: exit %d %s", code, out)
	}

	// API keys: a personal account for Julie and a department integration.
	keys := seedKeys(t, db)
	c.want(0, []string{"keys", "list"}, keys[0], keys[1], "active")
	c.want(0, []string{"keys", "rotate", keys[1], "--overlap", "48h"}, "new key", "civic_")
	c.want(0, []string{"keys", "report"}, "SOC 2 CC6.1")
	c.want(0, []string{"report", "api-keys", "--lang", "fr", "-o", "csv"}, "clé,nom")

	c.want(0, []string{"offboard", "E1042", "--reason", "resigned"}, "offboarded E1042", "1 personal keys revoked", "flagged for a new owner [bylaw-export]")
	c.want(1, []string{"check", "user:e1042", "bylaw.case.read", "dept:parks"}, "denied")
	code, _, errs = c.run("", "offboard", "E404")
	if code != 2 || !strings.Contains(errs, "no such employee") {
		t.Fatalf("offboard unknown: %d %s", code, errs)
	}

	// Reports.
	c.want(0, []string{"report", "certification", "parks", "--lang", "fr"}, "Urbaniste", "access.certification")
	c.want(0, []string{"report", "certification", "dept:parks", "-o", "json"}, `"report": "access.certification"`)
	events := filepath.Join(dir, "audit.jsonl")
	now := time.Now().UTC()
	var lines []string
	for i, sub := range []string{"user:kim", "user:kim", "user:sam"} {
		b, _ := json.Marshal(iam.Event{ID: fmt.Sprint("pii-", i), Type: iam.EventPIIViewed, Time: now.Add(-time.Hour), Subject: rbac.Subject(sub),
			Detail: map[string]string{"permission": "crm.citizen.sin.view", "field": "SIN", "scope": "org"}})
		lines = append(lines, string(b))
	}
	os.WriteFile(events, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	c.want(0, []string{"assign", "user:kim", "crm-agent", "org"}, "assigned")
	c.want(0, []string{"report", "pii-access", "--events", events, "-o", "csv"}, "crm.citizen.sin.view,role,crm-agent", "crm.citizen.sin.view,views,crm-agent", "A.5.34")
	c.want(0, []string{"report", "pii-access", "--events", events, "--lang", "fr"}, "consultations")

	// Export round-trips through import.
	exported := c.want(0, []string{"export"}, "p,user:sam,role:purchasing-agent,dept:finance")
	os.WriteFile(pf, []byte(exported), 0o600)
	c.want(0, []string{"import", pf, "--dry-run"}, "nothing to change")

	// Shell completion.
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		c.want(0, []string{"completion", sh}, "iam")
	}
	c.want(0, []string{"help"}, "Exit codes")
}

// seedConflictRule writes a conflict rule and a violation that predates
// it, straight into the store.
func seedConflictRule(t *testing.T, db string) {
	t.Helper()
	st, err := sqlitestore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Apply(context.Background(), rbac.Change{PutConflicts: []rbac.ConflictRule{{ID: "po-create-approve",
		Description: "who raises a PO never approves it", Roles: [2]rbac.RoleID{"purchasing-agent", "finance-director"}}}}); err != nil {
		t.Fatal(err)
	}
}

// seedKeys creates Julie's personal account and a department integration
// she owns, each with a key, and returns the key ids.
func seedKeys(t *testing.T, db string) []string {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ks, err := sqlitestore.NewAPIKeyStore(st.DB())
	if err != nil {
		t.Fatal(err)
	}
	authz, err := iam.New(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer authz.Close()
	m, err := apikey.New(ks, authz, bytes.Repeat([]byte{0xab}, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var ids []string
	for _, a := range []apikey.Account{
		{ID: "personal-e1042", Owner: "user:e1042", Department: "bylaw", Description: "Julie's scripts"},
		{ID: "bylaw-export", Owner: "user:e1042", Department: "bylaw", Description: "nightly export"},
	} {
		if _, err := m.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		k, err := m.CreateKey(ctx, a.ID, apikey.KeySpec{Name: "main"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.Key.ID)
	}
	return ids
}

func TestErrorsExitTwo(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "city.db")
	c := cli{t: t, env: map[string]string{"IAM_DB": db}}
	c.want(0, []string{"init"})
	notStore := filepath.Join(dir, "notes.txt")
	os.WriteFile(notStore, []byte("hello"), 0o600)
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		err  string
	}{
		{"no store named", map[string]string{}, []string{"roles"}, "no store"},
		{"missing file", map[string]string{"IAM_DB": filepath.Join(dir, "nope.db")}, []string{"roles"}, "no store at"},
		{"not a store", map[string]string{"IAM_DB": notStore}, []string{"roles"}, ""},
		{"a directory", map[string]string{"IAM_DB": dir}, []string{"roles"}, "no store at"},
		{"unknown scheme", map[string]string{"IAM_DB": "mysql://root@localhost/iam"}, []string{"roles"}, "want a file path or a postgres:// URL"},
		{"unreachable postgres", map[string]string{"IAM_DB": "postgres://iam:hunter2@127.0.0.1:1/iam?connect_timeout=2"}, []string{"roles"}, "127.0.0.1:1"},
		{"malformed permission", nil, []string{"check", "user:a", "Finance.PO;DROP", "org"}, "invalid permission"},
		{"wildcard in a request", nil, []string{"check", "user:a", "finance.*", "org"}, "permission"},
		{"malformed subject", nil, []string{"check", "alice", "finance.po.read", "org"}, "subject"},
		{"malformed scope", nil, []string{"check", "user:a", "finance.po.read", "dept:"}, "scope"},
		{"SQL in a scope", nil, []string{"who-can", "finance.po.read", "dept:x' OR '1'='1"}, "scope"},
		{"too few arguments", nil, []string{"check", "user:a"}, "arg(s)"},
		{"unknown command", nil, []string{"frobnicate"}, "unknown command"},
		{"unknown flag", nil, []string{"roles", "--colour"}, "unknown flag"},
		{"bad format", nil, []string{"roles", "-o", "xml"}, "--format"},
		{"bad language", nil, []string{"roles", "--lang", "de"}, "--lang"},
		{"bad date", nil, []string{"assign", "user:a", "r", "org", "--until", "next week"}, "--until"},
		{"rotate without the key", nil, []string{"keys", "rotate", "abc"}, "IAM_APIKEY_KEY"},
		{"malformed employee id", nil, []string{"offboard", "E1\r\nX"}, "employee id"},
		{"missing import file", nil, []string{"import", filepath.Join(dir, "none.csv")}, "none.csv"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = c.env
			}
			code, out, errs := cli{t: t, env: env}.run("", tt.args...)
			if code != 2 || !strings.Contains(errs, tt.err) || !strings.HasPrefix(errs, "iam: ") {
				t.Fatalf("exit %d, stderr %q, stdout %q; want exit 2 naming %q", code, errs, out, tt.err)
			}
			if strings.Contains(errs, "hunter2") {
				t.Fatal("the database password was printed")
			}
		})
	}
}

// TestPostgres runs commands against PostgreSQL, then as a role that may
// not read the store's tables: a clear error and exit 2.
func TestPostgres(t *testing.T) {
	dsn, schema := testdb.PostgresSchemaDSN(t)
	c := cli{t: t, env: map[string]string{"IAM_DB": dsn}}
	c.want(0, []string{"init"}, "store ready")
	c.want(0, []string{"templates", "apply", "clerk"}, "role clerk")
	c.want(0, []string{"assign", "user:ann", "clerk", "org"}, "assigned")
	c.want(0, []string{"check", "user:ann", "clerk.minutes.read", "org"}, "allowed")
	c.want(0, []string{"report", "sod", "-o", "csv"}, "evidence,report,sod.compliance")

	admin, err := gorm.Open(postgres.Open(testdb.PostgresDSN()), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := admin.DB(); err == nil {
		defer s.Close()
	}
	role := testdb.Name("iam_noperm")
	if err := admin.Exec("CREATE ROLE " + role + " LOGIN").Error; err != nil {
		t.Skipf("cannot create a role: %v", err)
	}
	t.Cleanup(func() { admin.Exec("DROP OWNED BY " + role); admin.Exec("DROP ROLE IF EXISTS " + role) })
	// It may see the schema, not read its tables.
	if err := admin.Exec("GRANT USAGE ON SCHEMA " + schema + " TO " + role).Error; err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	code, _, errs := cli{t: t, env: map[string]string{"IAM_DB": u.String()}}.run("", "check", "user:ann", "clerk.minutes.read", "org")
	if code != 2 || !strings.Contains(errs, "permission denied") {
		t.Fatalf("no permissions on %s: exit %d, %s", schema, code, errs)
	}
}
