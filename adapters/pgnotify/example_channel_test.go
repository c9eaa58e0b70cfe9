package pgnotify_test

import (
	"fmt"

	"github.com/civic-platform/security/adapters/pgnotify"
)

// ExampleWithChannel gives two services that share a database their own
// notification channels. New checks the name before anything else and
// connects to nothing: the channel is spliced into LISTEN and the trigger,
// so a name outside a-z, 0-9 and _ is refused.
func ExampleWithChannel() {
	dsn := "postgres://iam@127.0.0.1:5432/iam?sslmode=disable"
	l, err := pgnotify.New(dsn, pgnotify.WithChannel("permits_policy"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("listening on:", l.Channel())

	_, err = pgnotify.New(dsn, pgnotify.WithChannel(`iam"; DROP TABLE casbin_rule; --`))
	fmt.Println(err)
	// Output:
	// listening on: permits_policy
	// pgnotify: channel "iam\"; DROP TABLE casbin_rule; --": want 1 to 63 characters of a-z, 0-9 and _, not starting with a digit
}
