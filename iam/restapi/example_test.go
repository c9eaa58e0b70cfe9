package restapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/iam/restapi"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
)

// A service not written in Go asks for decisions over HTTP with a session
// token of an account granted iam.decision.check.
func Example() {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	authz, err := iam.New(ctx, iamtest.NewStore(rbac.Model{
		Roles: []rbac.Role{restapi.AdminRole, {ID: "clerk", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grants: []rbac.Grant{
			{Subject: "user:root", Role: "iam-admin", Scope: "org"},
			{Subject: "user:alice", Role: "clerk", Scope: "dept:building"},
		},
	}), iam.WithLogger(logger))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer authz.Close()
	key, _ := session.GenerateKey(session.EdDSA, "k1")
	ring, _ := session.NewKeyring(key)
	sessions, err := session.New(session.NewMemoryStore(), ring)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sessions.Close()
	mw, err := iamhttp.New(authz, iamhttp.WithSessions(sessions), iamhttp.WithLogger(logger))
	if err != nil {
		fmt.Println(err)
		return
	}
	api, err := restapi.New(authz, mw, restapi.WithSessions(sessions), restapi.WithLogger(logger))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()

	_, token, err := sessions.Create(ctx, session.Start{Subject: "user:root", Method: session.MethodPassword})
	if err != nil {
		fmt.Println(err)
		return
	}
	body := `{"checks":[{"subject":"user:alice","permission":"permits.application.read","scope":"dept:building"},
	                   {"subject":"user:alice","permission":"permits.application.read","scope":"dept:finance"}]}`
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/authz/check", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	fmt.Println(res.StatusCode, strings.TrimSpace(string(out)))
	// Output:
	// 200 {"decisions":[{"allowed":true,"reason":"allowed by an active grant","revision":1},{"allowed":false,"reason":"no grant in force covers this permission at this scope","revision":1}]}
}
