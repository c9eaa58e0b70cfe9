package perm_test

import (
	"errors"
	"fmt"

	"github.com/civic-platform/security/internal/perm"
)

// ExampleParse checks permissions against the grammar: a wildcard is a
// pattern a grant may hold, never a request, and a malformed permission is
// a *perm.Error whose input is quoted.
func ExampleParse() {
	p, err := perm.Parse("permits.application.*", true)
	fmt.Println(p.Kind == perm.Wildcard, p.Prefix, p.Segments, err)

	_, err = perm.Parse("permits.application.*", false)
	var pe *perm.Error
	fmt.Println(errors.As(err, &pe), pe.Reason)

	p, err = perm.Parse("crm.citizen.sin.view", false)
	fmt.Println(p.Kind == perm.Exact, p.Segments, err)
	// Output:
	// true permits.application. 2 <nil>
	// true wildcard not allowed here
	// true 4 <nil>
}

// ExampleWildcardPrefixes lists the wildcard prefixes that could cover a
// permission, the keys a policy looks up to find wildcard rules.
func ExampleWildcardPrefixes() {
	perm.WildcardPrefixes("crm.citizen.sin.view", func(prefix string) bool {
		fmt.Println(prefix + "*")
		return true
	})
	// Output:
	// crm.*
	// crm.citizen.*
	// crm.citizen.sin.*
}
