package sso_test

import (
	"testing"

	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/sso"
	"github.com/civic-platform/security/session/sso/ssotest"
)

func TestMemLinks(t *testing.T) {
	ssotest.RunLinks(t, func(testing.TB) (sso.Links, signin.Users) { return sso.NewMemLinks(), signin.NewMemStore() })
}
