package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/session"
	"github.com/civic-platform/security/session/secrets"
	"github.com/civic-platform/security/session/signin"
)

// testApp is the App over iamtest's in-memory policy and a scratch SQLite
// database for the permits.
func testApp(t *testing.T) (*App, *iamtest.Env, *session.Manager) {
	t.Helper()
	env := iamtest.New(t, demoPolicy())
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "p.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := session.GenerateKey(session.EdDSA, "k")
	ring, _ := session.NewKeyring(key)
	sessions, err := session.New(session.NewMemoryStore(), ring)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sessions.Close() })
	line, _ := secrets.GenerateKey("k")
	kp, _ := secrets.ParseKeys(line)
	sealer, _ := secrets.NewSealer(kp)
	signins, err := signin.New(signin.NewMemStore(), sealer, signin.WithSessions(signin.ManagerSessions(sessions)))
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp(db, env.Authorizer, env.Admin, sessions, signins)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&demoPermits).Error; err != nil {
		t.Fatal(err)
	}
	return app, env, sessions
}

func bearer(t *testing.T, m *session.Manager, sub string) string {
	t.Helper()
	_, tok, err := m.Create(context.Background(), session.Start{Subject: sub, Method: session.MethodPassword})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestListIsFilteredAndMaskedPerRecord(t *testing.T) {
	app, _, sessions := testApp(t)
	h := app.Handler()
	for _, tt := range []struct {
		who      string
		wantIDs  string
		wantSINs string
	}{
		{"user:clara", "BP-1001 BP-1002", "***-***-*** ***-***-***"}, // clerk: no SIN
		{"user:sam", "BP-1001 BP-1002", "046 454 286 130 692 544"},   // supervisor in building
		{"user:pat", "PL-2001", "193 456 787"},                       // supervisor in planning only
		{"user:dev", "", ""},                                         // no grant: nothing
	} {
		t.Run(tt.who, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/permits", nil)
			r.Header.Set("Authorization", "Bearer "+bearer(t, sessions, tt.who))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var ps []Permit
			if err := json.Unmarshal(w.Body.Bytes(), &ps); err != nil {
				t.Fatal(err)
			}
			var ids, sins []string
			for _, p := range ps {
				ids, sins = append(ids, p.ID), append(sins, p.SIN)
			}
			if got := strings.Join(ids, " "); got != tt.wantIDs {
				t.Errorf("ids %q, want %q", got, tt.wantIDs)
			}
			if got := strings.Join(sins, " "); got != tt.wantSINs {
				t.Errorf("SINs %q, want %q", got, tt.wantSINs)
			}
		})
	}
}

func TestApproveAtThePermitsDepartment(t *testing.T) {
	app, env, sessions := testApp(t)
	h := app.Handler()
	post := func(sub, path string) int {
		r := httptest.NewRequest("POST", path, nil)
		r.Header.Set("Authorization", "Bearer "+bearer(t, sessions, sub))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, tt := range []struct {
		sub, path string
		want      int
	}{
		{"user:clara", "/permits/BP-1001/approve", 403}, // clerk
		{"user:pat", "/permits/BP-1001/approve", 403},   // supervisor, other department
		{"user:sam", "/permits/BP-1001/approve", 200},
		{"user:sam", "/permits/BP-1001/approve", 400}, // already approved
		{"user:sam", "/permits/NOPE/approve", 404},
		{"user:sam", "/permits/BP-1002'--/approve", 404},
		{"user:sam", "/admin/departments/building/roles/permit-supervisor/members/clara", 403}, // not an admin
		{"user:ada", "/admin/departments/planning/roles/permit-clerk/members/clara", 403},      // admin elsewhere
		{"user:ada", "/admin/departments/building/roles/permit-supervisor/members/clara", 200},
		{"user:clara", "/permits/BP-1002/approve", 200}, // promoted
	} {
		if got := post(tt.sub, tt.path); got != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.sub, tt.path, got, tt.want)
		}
	}
	if n := len(env.Events.OfType("role.assigned")); n != 1 {
		t.Errorf("%d role.assigned events", n)
	}
}
