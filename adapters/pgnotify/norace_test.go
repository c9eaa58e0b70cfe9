//go:build !race

package pgnotify_test

// raceEnabled lowers the counts of the multi-process tests under -race.
const raceEnabled = false
