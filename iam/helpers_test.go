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
