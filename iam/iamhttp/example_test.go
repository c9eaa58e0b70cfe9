package iamhttp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session"
)

func Example() {
	ctx := context.Background()
	authz, err := iam.New(ctx, iamtest.NewStore(rbac.Model{
		Roles:  []rbac.Role{{ID: "cbo", Permissions: []rbac.Permission{"permits.application.approve"}}},
		Grants: []rbac.Grant{{Subject: "user:carol", Role: "cbo", Scope: "dept:building"}},
	}))
	if err != nil {
		fmt.Println("authorizer:", err)
		return
	}
	defer authz.Close()
	key, err := session.GenerateKey(session.EdDSA, "k1")
	if err != nil {
		fmt.Println("key:", err)
		return
	}
	ring, err := session.NewKeyring(key)
	if err != nil {
		fmt.Println("keyring:", err)
		return
	}
	sessions, err := session.New(session.NewMemoryStore(), ring)
	if err != nil {
		fmt.Println("sessions:", err)
		return
	}
	defer sessions.Close()
	mw, err := iamhttp.New(authz, iamhttp.WithSessions(sessions),
		iamhttp.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		fmt.Println("middleware:", err)
		return
	}

	// The existing handler is unchanged; the route declares what it needs.
	approve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := iamhttp.Principal(r.Context())
		fmt.Fprintf(w, "approved by %s", c.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /departments/{dept}/permits/approve",
		mw.Require("permits.application.approve", iamhttp.FromPath("dept", "dept"))(approve))
	srv := httptest.NewServer(mw.Authenticate(mux))
	defer srv.Close()

	_, token, err := sessions.Create(ctx, session.Start{Subject: "user:carol", Method: session.MethodPassword})
	if err != nil {
		fmt.Println("sign-in:", err)
		return
	}
	for _, dept := range []string{"building", "finance"} {
		req, _ := http.NewRequest("POST", srv.URL+"/departments/"+dept+"/permits/approve", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println("request:", err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			fmt.Println(dept, resp.StatusCode, string(body))
		} else {
			fmt.Println(dept, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// Output:
	// building 200 approved by user:carol
	// finance 403 application/problem+json
}
