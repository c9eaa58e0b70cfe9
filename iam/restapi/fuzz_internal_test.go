package restapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/civic-platform/security/iam/iamhttp"
)

// FuzzDecode: any body and content type either decodes or is refused with
// one of the three request sentinels; nothing panics, nothing past MaxBody
// is read.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"checks":[]}`, `{"checks":[{"subject":"user:a"}]}`, `{}`, `[]`, `null`, `{"x":1}`, `{"checks":[]} x`, "\xff", strings.Repeat("[", 1000),
		`{"checks":[],"checks":[]}`, `{"checks":[{"subject":"a","SUBJECT":"b"}]}`, `{"\u017fubject":1}`, `[{"a":{"a":[{"a":1}]},"b":2}]`} {
		f.Add(s, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Add(`{}`, "application/json; charset=utf-16")
	f.Fuzz(func(t *testing.T, body, ctype string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		var v CheckRequest
		err := decode(r, &v)
		if err == nil {
			return
		}
		if !errors.Is(err, iamhttp.ErrBadRequest) && !errors.Is(err, iamhttp.ErrTooLarge) && !errors.Is(err, iamhttp.ErrUnsupportedMediaType) {
			t.Fatalf("body %q, type %q: untyped error %v", body, ctype, err)
		}
		if s := iamhttp.Status(err); s != http.StatusBadRequest && s != http.StatusRequestEntityTooLarge && s != http.StatusUnsupportedMediaType {
			t.Fatalf("status %d for %v", s, err)
		}
	})
}
