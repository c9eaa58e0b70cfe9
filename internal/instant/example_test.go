package instant_test

import (
	"fmt"
	"time"

	"github.com/civic-platform/security/internal/instant"
)

// Instants outside the range a grant window may name are clamped, so that
// a clock before 1970 or past 2262 still orders correctly.
func ExampleOf() {
	fmt.Println(instant.Of(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)))
	fmt.Println(instant.Of(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)))
	fmt.Println(instant.Of(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)) == instant.Max)
	fmt.Println(instant.InRange(instant.Earliest()), instant.InRange(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)))
	// Output:
	// 1780315200000000000
	// 0
	// true
	// false true
}
