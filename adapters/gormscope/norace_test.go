//go:build !race

package gormscope_test

const raceEnabled = false
