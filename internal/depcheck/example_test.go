package depcheck_test

import (
	"fmt"
	"os/exec"
	"strings"
)

// Example lists the database drivers each program links, the check a
// service's own CI can make: go list -deps names every package a build of
// the program links, so a driver the service does not use shows up there.
func Example() {
	drivers := []string{
		"gorm.io/driver/postgres",
		"github.com/glebarez/sqlite",
		"gorm.io/driver/mysql",
		"gorm.io/driver/sqlserver",
	}
	for _, prog := range []string{"./pgonly", "./sqliteonly", "./baregorm"} {
		out, err := exec.Command("go", "list", "-deps", prog).Output()
		if err != nil {
			fmt.Println(prog, err)
			continue
		}
		var linked []string
		for _, pkg := range strings.Fields(string(out)) {
			for _, d := range drivers {
				if pkg == d {
					linked = append(linked, d)
				}
			}
		}
		fmt.Printf("%s links %s\n", prog, strings.Join(linked, ", "))
	}
	// Output:
	// ./pgonly links gorm.io/driver/postgres
	// ./sqliteonly links github.com/glebarez/sqlite
	// ./baregorm links gorm.io/driver/postgres
}
