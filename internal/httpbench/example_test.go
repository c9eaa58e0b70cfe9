package httpbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/iamhttp"
	"github.com/civic-platform/security/session"
)

// Example sends the benchmarks' request through the iamhttp stack they
// measure, and shows that the stack decides rather than passes everything:
// the supervisor's session is let through at her department, refused at
// another, and a request without a credential is refused before any check.
func Example() {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	authz, err := iam.New(ctx, memSource{model()}, iam.WithLogger(quiet))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer authz.Close()
	key, _ := session.GenerateKey(session.EdDSA, "k1")
	ring, _ := session.NewKeyring(key)
	sessions, err := session.New(session.NewMemoryStore(), ring, session.WithLogger(quiet))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sessions.Close()
	for deadline := time.Now().Add(10 * time.Second); !sessions.Health().Connected; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			fmt.Println("session feed not connected")
			return
		}
	}
	_, tok, err := sessions.Create(ctx, session.Start{Subject: "user:carol", Method: session.MethodPassword})
	if err != nil {
		fmt.Println(err)
		return
	}
	mw, err := iamhttp.New(authz, iamhttp.WithSessions(sessions), iamhttp.WithLogger(quiet))
	if err != nil {
		fmt.Println(err)
		return
	}
	h := mw.Authenticate(mw.Require("permits.application.approve", iamhttp.FromPath("dept", "dept"))(nop))

	for _, c := range []struct{ dept, auth string }{
		{"building", "Bearer " + tok},
		{"finance", "Bearer " + tok},
		{"building", ""},
	} {
		r := httptest.NewRequest("POST", "/departments/"+c.dept+"/permits/approve", nil)
		r.SetPathValue("dept", c.dept)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(c.dept, c.auth != "", w.Code)
	}
	// Output:
	// building true 204
	// finance true 403
	// building false 401
}
