package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/adapters/pgstore"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
)

// The race child: when PGSTORE_RACE_ROLE is set, the test binary opens the
// store on PGSTORE_RACE_DSN, waits until PGSTORE_RACE_AT (Unix ns), grants
// the role to user:olu and prints "ok" or "conflict".
func TestMain(m *testing.M) {
	if role := os.Getenv("PGSTORE_RACE_ROLE"); role != "" {
		os.Exit(raceChild(role))
	}
	os.Exit(m.Run())
}

func raceChild(role string) int {
	db, err := gorm.Open(postgres.Open(os.Getenv("PGSTORE_RACE_DSN")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	s, err := pgstore.New(db)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if err := db.Exec("SELECT 1").Error; err != nil { // connect before the start line
		fmt.Println("error:", err)
		return 1
	}
	at, _ := strconv.ParseInt(os.Getenv("PGSTORE_RACE_AT"), 10, 64)
	time.Sleep(time.Until(time.Unix(0, at)))
	_, err = s.Apply(context.Background(), rbac.Change{Grant: []rbac.Grant{{Subject: "user:olu", Role: rbac.RoleID(role), Scope: "dept:finance"}}})
	switch {
	case err == nil:
		fmt.Println("ok")
	case errors.Is(err, rbac.ErrConflict):
		fmt.Println("conflict")
	default:
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

// TestConflictingAssignmentsFromTwoProcesses starts two OS processes that
// assign the two sides of a conflict rule to one user through the
// PostgreSQL store at the same instant: exactly one succeeds, because each
// write transaction locks the revision row first and validates the change
// against what the other committed.
func TestConflictingAssignmentsFromTwoProcesses(t *testing.T) {
	t.Parallel()
	dsn, _ := testdb.PostgresSchemaDSN(t)
	db := openDSN(t, dsn)
	ctx := context.Background()
	if err := pgstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, db)
	if _, err := s.Replace(ctx, rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:finance"}},
		Roles: []rbac.Role{
			{ID: "purchasing-agent", Permissions: []rbac.Permission{"finance.po.create"}},
			{ID: "finance-director", Permissions: []rbac.Permission{"finance.po.approve"}},
		},
		Conflicts: []rbac.ConflictRule{{ID: "po-create-approve", Roles: [2]rbac.RoleID{"purchasing-agent", "finance-director"}}},
	}); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		if round > 0 { // start clean
			m, _, err := s.LoadPolicy(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var c rbac.Change
			for _, g := range m.Grants {
				c.Revoke = append(c.Revoke, g.Key())
			}
			if _, err := s.Apply(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		at := time.Now().Add(time.Second).UnixNano()
		outs := make([]string, 2)
		var wg sync.WaitGroup
		for i, role := range []string{"purchasing-agent", "finance-director"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), "PGSTORE_RACE_ROLE="+role, "PGSTORE_RACE_DSN="+dsn, "PGSTORE_RACE_AT="+strconv.FormatInt(at, 10))
				out, err := cmd.CombinedOutput()
				if err != nil {
					outs[i] = fmt.Sprintf("%v: %s", err, out)
					return
				}
				outs[i] = strings.TrimSpace(string(out))
			}()
		}
		wg.Wait()
		ok, conflict := 0, 0
		for _, o := range outs {
			switch o {
			case "ok":
				ok++
			case "conflict":
				conflict++
			default:
				t.Fatalf("round %d: child said %q", round, o)
			}
		}
		if ok != 1 || conflict != 1 {
			t.Fatalf("round %d: %v; want exactly one ok and one conflict", round, outs)
		}
		m, _, err := s.LoadPolicy(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Grants) != 1 {
			t.Errorf("round %d: stored grants %+v, want exactly one", round, m.Grants)
		}
	}
}
