// Command baregorm opens PostgreSQL through gorm and reads one row, and
// uses nothing of this module: the baseline that BENCHMARKS.md compares
// build times with (see package depcheck).
package main
