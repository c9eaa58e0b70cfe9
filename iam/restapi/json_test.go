package restapi_test

import (
	"encoding/json"
	"io"
	"net/url"
)

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
