package restapi

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/civic-platform/security/iam/iamhttp"
)

// openapiJSON is the API's OpenAPI 3.1 description, generated from the
// route table by [Spec] and kept in the repository; TestOpenAPIUpToDate
// fails when they differ (go test ./iam/restapi -run TestOpenAPIUpToDate
// -update rewrites it).
//
//go:embed openapi.json
var openapiJSON []byte

func (a *API) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(openapiJSON)
	return err
}

// freeform marks a response whose schema is an open JSON object.
type freeform struct{}

// Spec returns the OpenAPI 3.1 document of the API, built from its routes
// and the Go types of their bodies.
func Spec() ([]byte, error) {
	a := &API{}
	g := &schemaGen{defs: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, rt := range a.routes() {
		op := map[string]any{
			"operationId": opID(rt.method, rt.path),
			"summary":     rt.summary,
			"tags":        []string{rt.group},
		}
		var params []any
		for _, seg := range strings.Split(rt.path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true,
					"schema": map[string]any{"type": "string", "maxLength": 256}})
			}
		}
		switch rt.path {
		case "/authz/who-can":
			params = append(params,
				map[string]any{"name": "permission", "in": "query", "required": true, "schema": map[string]any{"type": "string"}},
				map[string]any{"name": "scope", "in": "query", "required": true, "schema": map[string]any{"type": "string"}})
		case "/users":
			params = append(params,
				map[string]any{"name": "after", "in": "query", "schema": map[string]any{"type": "string"}},
				map[string]any{"name": "limit", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxPage}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.body()).Elem())}}}
		}
		responses := map[string]any{}
		ok := map[string]any{"description": "Success"}
		switch {
		case rt.path == "/openapi.json":
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		case rt.resp != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.resp))}}
		case rt.status == http.StatusSeeOther:
			ok["description"] = "Signed in: the session cookie is set and the browser is sent on"
		}
		responses[itoa(rt.status)] = ok
		problem := map[string]any{"$ref": "#/components/responses/Problem"}
		var codes []int
		switch {
		case rt.perm != "":
			op["x-permission"] = string(rt.perm)
			op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"apiKey": []any{}}, map[string]any{"cookie": []any{}}}
			op["description"] = "Requires " + string(rt.perm) + "."
			codes = []int{400, 401, 403, 404, 409, 503}
		case rt.self:
			op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"apiKey": []any{}}, map[string]any{"cookie": []any{}}}
			op["description"] = "Acts on the caller's own session; needs no permission."
			codes = []int{400, 401, 403, 503}
		default:
			op["security"] = []any{}
			codes = []int{400, 401, 429, 503}
			if strings.Contains(rt.path, "/sso/") {
				codes = append(codes, 501)
				op["description"] = "Answers 501 Not Implemented until the server is configured with an SSO handler."
			}
		}
		if rt.body != nil {
			codes = append(codes, 413, 415)
		}
		codes = append(codes, 500)
		for _, c := range codes {
			responses[itoa(c)] = problem
		}
		op["responses"] = responses
		p := Prefix + rt.path
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(rt.method)] = op
	}
	g.defs["Problem"] = g.schemaInline(reflect.TypeOf(iamhttp.Problem{}))
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Civic Security IAM API",
			"version": "1.0.0",
			"description": "Identity and authorization for municipal services. Every endpoint outside /auth requires a permission " +
				"of the iam module (x-permission); errors are RFC 9457 problem details.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.defs,
			"responses": map[string]any{"Problem": map[string]any{"description": "An RFC 9457 problem",
				"content": map[string]any{iamhttp.ProblemContentType: map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}},
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "A session token from /auth/login (return_token), or an API key"},
				"apiKey": map[string]any{"type": "apiKey", "in": "header", "name": iamhttp.DefaultAPIKeyHeader},
				"cookie": map[string]any{"type": "apiKey", "in": "cookie", "name": iamhttp.DefaultCookieName},
			},
		},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func opID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	up := true
	for _, r := range path {
		switch {
		case r == '/' || r == '-' || r == '{' || r == '}' || r == '.' || r == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

type schemaGen struct{ defs map[string]any }

var timeType = reflect.TypeOf(time.Time{})

// schema returns a $ref to a named struct's schema, or an inline schema.
func (g *schemaGen) schema(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Struct && t != timeType && t.Name() != "" && t != reflect.TypeOf(freeform{}) {
		name := t.Name()
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = nil // reserve against recursion
			g.defs[name] = g.schemaInline(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return g.schemaInline(t)
}

func (g *schemaGen) schemaInline(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == reflect.TypeOf(freeform{}):
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		g.fields(t, props, &required)
		sort.Strings(required)
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			g.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}
