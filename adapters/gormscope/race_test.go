//go:build race

package gormscope_test

// raceEnabled lets slow randomized tests do fewer cases under the race
// detector, which slows the pure-Go SQLite driver about twentyfold.
const raceEnabled = true
