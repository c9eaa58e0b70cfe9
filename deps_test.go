package security_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Module paths of the database drivers a service may not want to link.
var (
	mysqlDrivers     = []string{"github.com/go-sql-driver/mysql", "gorm.io/driver/mysql"}
	sqlServerDrivers = []string{"github.com/microsoft/go-mssqldb", "gorm.io/driver/sqlserver"}
	sqliteDrivers    = []string{"github.com/glebarez/", "modernc.org/sqlite", "gorm.io/driver/sqlite", "github.com/mattn/go-sqlite3"}
	postgresDrivers  = []string{"github.com/jackc/", "gorm.io/driver/postgres", "github.com/lib/pq"}
)

// TestServiceLinksOnlyItsDriver lists what a service built on one store
// links (go list -deps on the programs in internal/depcheck) and fails if a
// driver of another database is among them: a PostgreSQL service links no
// MySQL, SQL Server or SQLite driver, and one on the embedded store no
// PostgreSQL, MySQL or SQL Server driver. Casbin's gorm-adapter links all
// of them, so it is banned from both as well.
func TestServiceLinksOnlyItsDriver(t *testing.T) {
	t.Parallel()
	const gormAdapter = "github.com/casbin/gorm-adapter/"
	tests := []struct {
		prog   string
		banned [][]string
		want   []string // must be linked, so the program is what it claims
	}{
		{
			prog:   "./internal/depcheck/pgonly",
			banned: [][]string{mysqlDrivers, sqlServerDrivers, sqliteDrivers, {gormAdapter}},
			want:   []string{"gorm.io/driver/postgres", "github.com/civic-platform/security/adapters/pgstore"},
		},
		{
			prog:   "./internal/depcheck/sqliteonly",
			banned: [][]string{mysqlDrivers, sqlServerDrivers, postgresDrivers, {gormAdapter}},
			want:   []string{"github.com/glebarez/sqlite", "github.com/civic-platform/security/adapters/sqlitestore"},
		},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.prog, "./internal/depcheck/"), func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command("go", "list", "-deps", tt.prog).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tt.prog, err)
			}
			pkgs := strings.Fields(string(out))
			linked := make(map[string]bool, len(pkgs))
			for _, pkg := range pkgs {
				linked[pkg] = true
				for _, group := range tt.banned {
					for _, b := range group {
						if pkg == b || strings.HasPrefix(pkg, strings.TrimSuffix(b, "/")+"/") {
							t.Errorf("%s links %s", tt.prog, pkg)
						}
					}
				}
			}
			for _, w := range tt.want {
				if !linked[w] {
					t.Errorf("%s does not link %s: it no longer stands for the service it names", tt.prog, w)
				}
			}
		})
	}
}
