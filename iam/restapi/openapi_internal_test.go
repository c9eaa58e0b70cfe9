package restapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/civic-platform/security/iam"
)

var update = flag.Bool("update", false, "rewrite openapi.json from the route table")

// TestOpenAPIUpToDate: the document kept in the repository is the one the
// route table and the body types describe.
func TestOpenAPIUpToDate(t *testing.T) {
	got, err := Spec()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("openapi.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, openapiJSON) {
		t.Fatal("openapi.json is out of date: go test ./iam/restapi -run TestOpenAPIUpToDate -update")
	}
}

// TestRoutesDocumented: every route of the router is in the document, and
// every documented operation is a route.
func TestRoutesDocumented(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Permission string `json:"x-permission"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatal(err)
	}
	routes := (&API{}).routes()
	seen := map[string]bool{}
	for _, rt := range routes {
		k := rt.method + " " + Prefix + rt.path
		if seen[k] {
			t.Errorf("route %s twice", k)
		}
		seen[k] = true
		op, ok := doc.Paths[Prefix+rt.path][strings.ToLower(rt.method)]
		if !ok {
			t.Errorf("route %s is not documented", k)
			continue
		}
		if op.Permission != string(rt.perm) {
			t.Errorf("%s: documented permission %q, route requires %q", k, op.Permission, rt.perm)
		}
	}
	n := 0
	for p, ops := range doc.Paths {
		for m := range ops {
			n++
			if !seen[strings.ToUpper(m)+" "+p] {
				t.Errorf("documented %s %s has no route", m, p)
			}
		}
	}
	if n != len(routes) {
		t.Errorf("%d documented operations, %d routes", n, len(routes))
	}
}

// TestPermissions: every route outside /auth (and the self-service and
// meta endpoints) requires an iam.* permission that the grammar accepts
// and that Permissions lists; Permissions lists nothing unused.
func TestPermissions(t *testing.T) {
	listed := map[iam.Permission]bool{}
	for _, p := range Permissions {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if !strings.HasPrefix(string(p), "iam.") || !iam.Permission("iam.*").Covers(p) {
			t.Errorf("%s is not in the iam module", p)
		}
		listed[p] = true
	}
	used := map[iam.Permission]bool{}
	groups := map[string]int{}
	for _, rt := range (&API{}).routes() {
		groups[rt.group]++
		switch {
		case rt.perm != "":
			if !listed[rt.perm] {
				t.Errorf("%s %s requires %s, not in Permissions", rt.method, rt.path, rt.perm)
			}
			if rt.scope == nil {
				t.Errorf("%s %s has no scope", rt.method, rt.path)
			}
			used[rt.perm] = true
		case strings.HasPrefix(rt.path, "/auth/") || rt.path == "/openapi.json" || rt.self:
		default:
			t.Errorf("%s %s requires no permission", rt.method, rt.path)
		}
	}
	for p := range listed {
		if !used[p] {
			t.Errorf("%s is listed but no route requires it", p)
		}
	}
	if groups["auth"] != 6 || groups["authorization"] < 4 || groups["users"] < 8 || groups["keys"] < 5 {
		t.Errorf("endpoints per group: %v", groups)
	}
}
