package iam_test

import (
	"testing"

	"github.com/civic-platform/security/iam"
)

// defaultMasker returns a Masker of a with the built-in masks.
func defaultMasker(t testing.TB, a *iam.Authorizer) *iam.Masker {
	t.Helper()
	m, err := a.Masker(iam.MaskOptions{})
	if err != nil {
		t.Fatalf("Masker: %v", err)
	}
	return m
}

// verifiedScoper returns a Scoper for cfg checked against a's policy at
// once, as a service does at start-up.
func verifiedScoper(a *iam.Authorizer, cfg iam.DataScopes) (*iam.Scoper, error) {
	sc, err := iam.NewScoper(cfg)
	if err != nil {
		return nil, err
	}
	if err := sc.Verify(a.View()); err != nil {
		return nil, err
	}
	return sc, nil
}

// tableRows drops the trailing "evidence" rows (the report's header) of a
// CSV export.
func tableRows(rows [][]string) [][]string {
	out := rows[:0:0]
	for _, r := range rows {
		if r[0] != "evidence" {
			out = append(out, r)
		}
	}
	return out
}
