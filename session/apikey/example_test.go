package apikey_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/apikey"
)

func Example() {
	ctx := context.Background()
	policy, _ := memstore.New(rbac.Model{
		Roles:  []rbac.Role{{ID: "permit-reader", Permissions: []rbac.Permission{"permits.application.read"}}},
		Grants: []rbac.Grant{{Subject: "svc:permits-sync", Role: "permit-reader", Scope: "dept:building"}},
	})
	authz, _ := iam.New(ctx, policy)
	defer authz.Close()

	serverKey := make([]byte, 32) // in production: from your secret store
	rand.Read(serverKey)
	keys, _ := apikey.New(apikey.NewMemoryStore(), authz, serverKey)
	defer keys.Close()

	keys.CreateAccount(ctx, apikey.Account{ID: "permits-sync", Owner: "user:alice",
		Department: "dept:building", Description: "permit portal sync"})
	created, _ := keys.CreateKey(ctx, "permits-sync", apikey.KeySpec{Name: "portal"})
	// created.Secret goes to the client now; it is not stored.

	p, err := keys.Authorize(ctx, created.Secret, "permits.application.read", "dept:building")
	fmt.Println(p.Subject, err)
	_, err = keys.Authorize(ctx, created.Secret, "permits.application.approve", "dept:building")
	fmt.Println(errors.Is(err, apikey.ErrDenied))
	// Output:
	// svc:permits-sync <nil>
	// true
}

func ExampleParse() {
	key := apikey.Assemble("abcdefghijklmnop", "qrstuvwxyz234567qrstuvwxyz234567qrstuvwxyz234567qrst")
	_, err := apikey.Parse(key[:len(key)-1] + "x") // a typo in the checksum
	fmt.Println(errors.Is(err, apikey.ErrChecksum), errors.Is(err, apikey.ErrInvalidKey))
	p, _ := apikey.Parse(key)
	fmt.Println(p.ID)
	// Output:
	// true true
	// abcdefghijklmnop
}

func ExampleManager_Rotate() {
	ctx := context.Background()
	policy, _ := memstore.New(rbac.Model{
		Roles:  []rbac.Role{{ID: "exporter", Permissions: []rbac.Permission{"finance.gl.journal.read"}}},
		Grants: []rbac.Grant{{Subject: "svc:gl-export", Role: "exporter", Scope: "dept:finance"}},
	})
	authz, _ := iam.New(ctx, policy)
	defer authz.Close()
	serverKey := make([]byte, 32)
	rand.Read(serverKey)
	keys, _ := apikey.New(apikey.NewMemoryStore(), authz, serverKey)
	defer keys.Close()
	keys.CreateAccount(ctx, apikey.Account{ID: "gl-export", Owner: "user:frank", Department: "dept:finance"})
	old, _ := keys.CreateKey(ctx, "gl-export", apikey.KeySpec{Name: "nightly"})

	next, _ := keys.Rotate(ctx, old.Key.ID, 0) // old key valid 7 more days
	_, errOld := keys.Verify(ctx, old.Secret)
	_, errNew := keys.Verify(ctx, next.Secret)
	fmt.Println(errOld, errNew)
	// Output: <nil> <nil>
}
