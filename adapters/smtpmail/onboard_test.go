package smtpmail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/adapters/smtpmail"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/onboard"
	"github.com/civic-platform/security/session/signin"
)

// TestWelcomeOverSMTP onboards a joiner with an accented French name and
// reads the welcome message off a real SMTP server.
func TestWelcomeOverSMTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startServer(t)
	mailer, err := smtpmail.New(srv.Addr(), onboard.Address{Name: "Ville de Lakeview", Email: "ti@lakeview.ca"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := memstore.New(rbac.Model{Scopes: []rbac.ScopeNode{{Scope: "dept:bylaw", Parent: "org"}}})
	if err != nil {
		t.Fatal(err)
	}
	authz, err := iam.New(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	defer authz.Close()
	svc, err := onboard.New(signin.NewMemStore(), store, iam.NewAdmin(authz, store), onboard.WithMailer(mailer),
		onboard.WithSSO("https://login.lakeview.ca/"), onboard.WithOrganisation("Ville de Lakeview"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Onboard(ctx, onboard.Record{EmployeeID: "E77", GivenName: "Zoë", FamilyName: "O'Brien-Lévesque",
		Email: "zoe.obrien@lakeview.ca", Position: "Agente d'application des règlements municipaux", Department: "bylaw",
		StartDate: time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC), Language: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(1, 5*time.Second)
	if len(got) != 1 {
		t.Fatalf("received %d messages", len(got))
	}
	msg, subject, body := parsed(t, got[0].Data)
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Zoë O'Brien-Lévesque" {
		t.Fatalf("To = %v %v", to, err)
	}
	if !strings.HasPrefix(subject, "Bienvenue à Ville de Lakeview") || !strings.Contains(body, "4 janvier 2027") ||
		!strings.Contains(body, "https://login.lakeview.ca/") {
		t.Fatalf("subject %q body %q", subject, body)
	}
}
