package onboard_test

import (
	"context"
	"fmt"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/onboard"
	"github.com/civic-platform/security/session/signin"
)

func ExampleService_Onboard() {
	ctx := context.Background()
	store, err := memstore.New(rbac.Model{Scopes: []rbac.ScopeNode{{Scope: "dept:bylaw", Parent: "org"}, {Scope: "dept:parks", Parent: "org"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	authz, err := iam.New(ctx, store)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer authz.Close()
	mailer := onboard.MailerFunc(func(_ context.Context, m onboard.Message) error {
		fmt.Printf("mail to %s: %s\n", m.To.Email, m.Subject)
		return nil
	})
	svc, err := onboard.New(signin.NewMemStore(), store, iam.NewAdmin(authz, store),
		onboard.WithMailer(mailer), onboard.WithSSO("https://login.lakeview.ca/"), onboard.WithOrganisation("Lakeview"))
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := onboard.Record{EmployeeID: "E1042", GivenName: "Julie", FamilyName: "Tremblay", Email: "julie.tremblay@lakeview.ca",
		Position: "Agente d'application des règlements municipaux", Department: "bylaw", Language: "fr"}
	for _, dept := range []string{"bylaw", "bylaw", "parks"} {
		rec.Department = dept
		res, err := svc.Onboard(ctx, rec)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(res.Kind, res.User.ID, len(res.Assigned), "assigned", len(res.Revoked), "revoked")
	}
	d, err := authz.Check(ctx, "user:e1042", "bylaw.case.read", "dept:parks")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("may read bylaw cases in parks:", d.Allowed)
	rec.Position = "Chief Happiness Officer"
	_, err = svc.Onboard(ctx, rec)
	fmt.Println(err)
	// Output:
	// mail to julie.tremblay@lakeview.ca: Bienvenue à Lakeview : activez votre compte
	// joiner e1042 1 assigned 0 revoked
	// unchanged e1042 0 assigned 0 revoked
	// mover e1042 1 assigned 1 revoked
	// may read bylaw cases in parks: true
	// onboard: unknown position "Chief Happiness Officer": map it to a role first
}
