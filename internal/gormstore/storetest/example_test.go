package storetest_test

import (
	"context"
	"fmt"
	"reflect"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/internal/gormstore/storetest"
)

// ExampleNormalize compares what a store gives back with what was put in,
// the comparison the conformance suite makes on every store: Normalize
// puts both models in one canonical order first. Without keepText it drops
// role labels and grant reasons, which not every store keeps.
func ExampleNormalize() {
	ctx := context.Background()
	want := storetest.CityModel()
	store, err := memstore.New(want)
	if err != nil {
		fmt.Println(err)
		return
	}
	got, _, err := store.LoadPolicy(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	same := reflect.DeepEqual(storetest.Normalize(got, true), storetest.Normalize(want, true))
	fmt.Println("round trip keeps the model:", same)

	got.Roles[0].Labels = map[string]string{"en": "relabelled"}
	fmt.Println("equal ignoring text:", reflect.DeepEqual(storetest.Normalize(got, false), storetest.Normalize(want, false)))
	fmt.Println("equal with text:", reflect.DeepEqual(storetest.Normalize(got, true), storetest.Normalize(want, true)))
	// Output:
	// round trip keeps the model: true
	// equal ignoring text: true
	// equal with text: false
}
