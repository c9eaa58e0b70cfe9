package apikey_test

import (
	"testing"

	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/apikey/apikeytest"
)

func TestMemoryStore(t *testing.T) {
	apikeytest.Run(t, func(testing.TB) apikey.Store { return apikey.NewMemoryStore() })
}
