package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
)

// Example runs the permits service on the embedded store, as main does
// without -dsn, and lists permits over HTTPS as two people: the clerk sees
// her department's permits with the applicant's SIN masked, the supervisor
// sees the same permits with the SIN, and neither sees planning's permit.
func Example() {
	dir, err := os.MkdirTemp("", "permits")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	svc, err := setup(context.Background(), "", dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.close()
	srv := httptest.NewTLSServer(svc.app.Handler())
	defer srv.Close()

	for _, user := range []string{"clara", "sam"} {
		client := *srv.Client()
		client.Jar, _ = cookiejar.New(nil)
		login := `{"Email":"` + user + `@city.example","Password":"` + demoPassword + `"}`
		resp, err := client.Post(srv.URL+"/login", "application/json", strings.NewReader(login))
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Println(user, "login:", resp.Status)
			return
		}
		resp, err = client.Get(srv.URL + "/permits")
		if err != nil {
			fmt.Println(err)
			return
		}
		var permits []Permit
		err = json.NewDecoder(resp.Body).Decode(&permits)
		resp.Body.Close()
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, p := range permits {
			fmt.Println(user, p.ID, p.Applicant, p.SIN)
		}
	}
	// Output:
	// clara BP-1001 R. Tremblay ***-***-***
	// clara BP-1002 L. Singh ***-***-***
	// sam BP-1001 R. Tremblay 046 454 286
	// sam BP-1002 L. Singh 130 692 544
}
