package iamhttp

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeJSON: any body and content type either decodes — and then is
// unambiguous — or is refused with one of the three request sentinels.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"Name":"a"}`, `{"name":"a","NAME":"b"}`, `{"\u017fame":1}`, `{"name":"a"} x`,
		"{\"name\":\"\xff\"}", `{"tags":[{"name":1}]}`, strings.Repeat("[", 1000), `{"name":"a","name":"a"}`, ``} {
		f.Add(s, "application/json")
	}
	f.Add(`{"name":"a"}`, "text/plain")
	f.Add(`{"name":"a"}`, "application/json; charset=utf-16")
	f.Fuzz(func(t *testing.T, body, ctype string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		var v struct {
			Name string
			Tags []map[string]any
		}
		err := DecodeJSON(r, &v, 1<<10)
		if err == nil {
			if unambiguous([]byte(body)) != nil {
				t.Fatalf("body %q decoded though ambiguous", body)
			}
			return
		}
		if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupportedMediaType) {
			t.Fatalf("body %q, type %q: untyped error %v", body, ctype, err)
		}
	})
}

// TestDecodeJSONRefusesAmbiguity: keys that Go's decoder would fold onto
// one field are refused inside maps and nested objects too.
func TestDecodeJSONRefusesAmbiguity(t *testing.T) {
	for _, body := range []string{`{"name":"a","Name":"b"}`, `{"tags":[{"k":1,"K":2}]}`, `{"\u017fame":"x"}`, "{\"name\":\"\xfe\"}"} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var v struct {
			Name string
			Tags []map[string]any
		}
		if err := DecodeJSON(r, &v, 1<<10); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%q: %v", body, err)
		}
	}
}
