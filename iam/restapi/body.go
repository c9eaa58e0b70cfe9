package restapi

import (
	"encoding/json"
	"net/http"

	"github.com/civic-platform/security/iam/iamhttp"
)

// MaxBody is the largest request body accepted, in bytes.
const MaxBody = 64 << 10

// decode reads r's JSON body into v with [iamhttp.DecodeJSON], at most
// MaxBody bytes.
func decode(r *http.Request, v any) error {
	return iamhttp.DecodeJSON(r, v, MaxBody)
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
