package iamhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// DecodeJSON reads r's JSON body into v: application/json (UTF-8) only,
// at most limit bytes, no unknown fields, no key given twice, nothing after
// the value. It fails with [ErrUnsupportedMediaType] (415), [ErrTooLarge]
// (413) or [ErrBadRequest] (400), ready for [Middleware.Error]. Requiring
// application/json also keeps another site's page from posting the body
// with a plain form, which a browser sends without a CORS preflight — a
// sign-in route needs this, since it has no session cookie to check.
func DecodeJSON(r *http.Request, v any, limit int64) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" || len(r.Header.Values("Content-Type")) != 1 {
		return fmt.Errorf("%w: content type %q", ErrUnsupportedMediaType, truncate(ct))
	}
	if cs, ok := params["charset"]; ok && cs != "utf-8" && cs != "UTF-8" {
		return fmt.Errorf("%w: charset", ErrUnsupportedMediaType)
	}
	if r.ContentLength > limit {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, r.ContentLength)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return fmt.Errorf("%w: reading body: %v", ErrBadRequest, err)
	}
	if int64(len(b)) > limit {
		return fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	if err := unambiguous(b); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON value", ErrBadRequest)
	}
	return nil
}

// unambiguous refuses a body that JSON parsers could read differently:
// text that is not UTF-8 (Go's decoder would replace the bytes), an object
// key that is not ASCII, and an object key given twice in any letter case.
// Go's decoder matches keys to fields ignoring case, folding Unicode
// spellings such as U+017F (ſ) onto ASCII letters, and keeps the last of
// two; a proxy or audit log that keeps the first would see another request
// than the one decided. All the API's field names are ASCII.
func unambiguous(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("body is not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	// Per open container: the keys seen (nil for an array) and whether the
	// next string token of an object is a key.
	type frame struct {
		keys    map[string]struct{}
		wantKey bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err // the decoder reports it again with context
		}
		top := len(stack) - 1
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top >= 0 && stack[top].keys != nil {
					stack[top].wantKey = true
				}
				stack = append(stack, frame{keys: map[string]struct{}{}, wantKey: true})
			case '[':
				if top >= 0 && stack[top].keys != nil {
					stack[top].wantKey = true
				}
				stack = append(stack, frame{})
			default:
				stack = stack[:top]
			}
			continue
		case string:
			if top >= 0 && stack[top].keys != nil && stack[top].wantKey {
				for i := 0; i < len(v); i++ {
					if v[i] >= utf8.RuneSelf {
						return errors.New("object key is not ASCII")
					}
				}
				k := strings.ToLower(v)
				if _, dup := stack[top].keys[k]; dup {
					return errors.New("object key given twice")
				}
				stack[top].keys[k] = struct{}{}
				stack[top].wantKey = false
				continue
			}
		}
		if top >= 0 && stack[top].keys != nil {
			stack[top].wantKey = true
		}
	}
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
