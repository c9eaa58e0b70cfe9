package security_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundaries keeps storage drivers, Casbin and the adapters out of
// the core packages: the core never imports the edges.
func TestImportBoundaries(t *testing.T) {
	t.Parallel()
	const mod = "github.com/civic-platform/security/"
	tests := []struct {
		pkgs   []string
		banned []string
	}{
		{ // the facade composes the core; storage arrives through interfaces,
			// authentication through iam.Authn (session depends on iam, not back)
			pkgs:   []string{"./iam", "./iam/reports"},
			banned: []string{"gorm.io/", "github.com/redis/", "github.com/jackc/", "github.com/casbin/", mod + "adapters", mod + "internal/casbinx", mod + "session", "github.com/golang-jwt/"},
		},
		{ // sessions: golang-jwt and golang-lru and the facade's vocabulary
			// (iam.Event, iam.AuditSink, iam.Authn), never a store driver
			pkgs:   []string{"./session"},
			banned: []string{"gorm.io/", "github.com/redis/", "github.com/jackc/", "github.com/casbin/", mod + "adapters", mod + "iam/", mod + "internal/casbinx", mod + "internal/gormstore"},
		},
		{ // HTTP middleware: net/http and the OpenTelemetry API, never a store, Casbin or an OTel SDK
			pkgs:   []string{"./iam/iamhttp", "./iam/iamotel", "./iam/restapi"},
			banned: []string{"gorm.io/", "github.com/redis/", "github.com/jackc/", "github.com/casbin/", "go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", mod + "adapters", mod + "internal/casbinx", mod + "internal/gormstore"},
		},
		{ // the pure packages use the standard library and internal/ only
			pkgs:   []string{"./rbac", "./abac", "./masking"},
			banned: []string{"gorm.io/", "github.com/", mod + "iam", mod + "adapters", mod + "internal/casbinx", mod + "session"},
		},
	}
	for _, tt := range tests {
		out, err := exec.Command("go", append([]string{"list", "-deps"}, tt.pkgs...)...).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			for _, b := range tt.banned {
				if strings.HasPrefix(pkg, b) && !strings.HasPrefix(pkg, mod) || strings.HasPrefix(pkg, b) && strings.HasPrefix(b, mod) {
					t.Errorf("%v depends on %s", tt.pkgs, pkg)
				}
			}
		}
	}
}
