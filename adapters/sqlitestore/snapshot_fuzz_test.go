package sqlitestore

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/rbac"
)

// FuzzDecodeSnapshot feeds arbitrary bytes, and arbitrary documents inside
// valid gzip, to the reader of a kept copy: it must return a model or an
// error, never panic, and what it returns must survive Compile's
// validation or be refused by it.
//
//	go test -run '^$' -fuzz FuzzDecodeSnapshot -fuzztime 30s ./adapters/sqlitestore
func FuzzDecodeSnapshot(f *testing.F) {
	m := rbac.Model{
		Scopes: []rbac.ScopeNode{{Scope: "dept:a"}},
		Roles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"crm.case.read"}, Labels: map[string]string{"fr": "Commis"}}},
		Grants: []rbac.Grant{{Subject: "user:x", Role: "clerk", Scope: "dept:a", Reason: "counter"}},
	}
	extras, err := casbinx.Extras(m)
	if err != nil {
		f.Fatal(err)
	}
	doc := snapshotDoc{V: snapshotVersion, Extras: extras}
	for _, l := range casbinx.Encode(m) {
		doc.Lines = append(doc.Lines, append([]string{l.PType}, l.Values...))
	}
	valid, err := json.Marshal(doc)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		valid,
		[]byte(`{"v":1,"lines":[]}`),
		[]byte(`{"v":1,"lines":[["p","user:x","role:clerk","org","00000000000000000000","99999999999999999999","allow"]]}`),
		[]byte(`{"v":1,"lines":[["g2","role:a","role:a"]]}`),
		[]byte(`{"v":1,"lines":[["p","user:x,role:y","role:clerk","org\n","0","9","allow"]]}`),
		[]byte(`{"v":1,"lines":[[]],"extras":"x"}`),
		[]byte(`{"v":2}`),
		[]byte(`not json`),
		{},
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, b []byte, compress bool) {
		if compress {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(b)
			zw.Close()
			b = buf.Bytes()
		}
		m, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		if p, err := rbac.Compile(m); err == nil && p == nil {
			t.Fatal("Compile returned neither a policy nor an error")
		}
	})
}
