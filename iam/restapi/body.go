package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/civic-platform/security/iam/iamhttp"
)

// MaxBody is the largest request body accepted, in bytes.
const MaxBody = 64 << 10

// decode reads r's JSON body into v: application/json only, at most
// MaxBody bytes, no unknown fields, nothing after the value.
func decode(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" || len(r.Header.Values("Content-Type")) != 1 {
		return fmt.Errorf("%w: content type %q", iamhttp.ErrUnsupportedMediaType, truncate(ct))
	}
	if cs, ok := params["charset"]; ok && cs != "utf-8" && cs != "UTF-8" {
		return fmt.Errorf("%w: charset", iamhttp.ErrUnsupportedMediaType)
	}
	if r.ContentLength > MaxBody {
		return fmt.Errorf("%w: %d bytes", iamhttp.ErrTooLarge, r.ContentLength)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return fmt.Errorf("%w: reading body: %v", iamhttp.ErrBadRequest, err)
	}
	if len(b) > MaxBody {
		return fmt.Errorf("%w: over %d bytes", iamhttp.ErrTooLarge, MaxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", iamhttp.ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON value", iamhttp.ErrBadRequest)
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
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
