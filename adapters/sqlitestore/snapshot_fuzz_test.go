package sqlitestore

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
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
		valid[:len(valid)/2], // truncated
		[]byte(`{"v":1,"lines":[["p","user:x","role:clerk","org","-1","99999999999999999999","allow"]]}`),
		[]byte(`{"v":1,"lines":[["p","user:x","role:clerk","org","00000000000000000000","9223372036854775807","allow"]]}`),
		[]byte(`{"v":1,"lines":[["g","user:x","group:y"],["g","group:y","user:x"]]}`),
		[]byte(`{"v":1,"lines":[["g3","dept:a","dept:a"]]}`),
		[]byte(`{"v":1,"lines":[],"extras":{"v":1,"labels":{"ghost":{"fr":"x"}}}}`),
		[]byte(`{"v":1,"lines":[],"extras":{"v":1,"waivers":[{"rule":"r","subject":"user:x","approved_by":"user:x"}]}}`),
		[]byte(`{"v":1,"lines":[["p","user:x"]],"extras":null}`),
		[]byte(`{"v":1,"lines":null}`),
		[]byte("{\"v\":1,\"lines\":[[\"g2\",\"role:a\u0000\",\"meta:role\"]]}"),
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

// FuzzVerifySnapshot changes a sealed copy's revision, confirmation time,
// document and tags by fuzzed amounts: the copy verifies only when nothing
// changed, whatever the change.
//
//	go test -run '^$' -fuzz FuzzVerifySnapshot -fuzztime 30s ./adapters/sqlitestore
func FuzzVerifySnapshot(f *testing.F) {
	key := bytes.Repeat([]byte("0123456789abcdef"), 2)
	fb := &SnapshotStore{key: key}
	id := []byte("file-identifier!")
	doc, err := encodeSnapshot(rbac.Model{
		Roles:  []rbac.Role{{ID: "clerk", Permissions: []rbac.Permission{"crm.case.read"}}},
		Grants: []rbac.Grant{{Subject: "user:x", Role: "clerk", Scope: "org"}},
	})
	if err != nil {
		f.Fatal(err)
	}
	const rev, confirmed = int64(12), int64(1_741_953_600_000_000_000)
	tag := fb.contentTag(id, rev, doc)
	sealed := snapshotRow{Revision: rev, Confirmed: confirmed, Doc: doc, Tag: tag, ConfirmedTag: fb.confirmedTag(id, rev, confirmed, tag)}
	if err := fb.verify(id, sealed); err != nil {
		f.Fatalf("the sealed copy does not verify: %v", err)
	}
	f.Add(int64(0), int64(0), 0, []byte{}, 0, byte(0), uint8(0))
	f.Add(int64(1), int64(0), 0, []byte{}, 0, byte(0), uint8(0))
	f.Add(int64(0), int64(-1), 0, []byte{}, 0, byte(0), uint8(0))
	f.Add(int64(0), int64(0), 5, []byte{0xff}, 0, byte(0), uint8(0))
	f.Add(int64(0), int64(0), -10, []byte{}, 0, byte(0), uint8(0))
	f.Add(int64(0), int64(0), 0, []byte{}, 3, byte(1), uint8(0))
	f.Add(int64(0), int64(0), 0, []byte{}, 40, byte(0x80), uint8(1))
	f.Add(int64(0), int64(0), 0, []byte{}, 0, byte(0), uint8(2))
	f.Fuzz(func(t *testing.T, dRev, dConfirmed int64, at int, patch []byte, tagAt int, flip byte, cut uint8) {
		r := snapshotRow{Revision: rev + dRev, Confirmed: confirmed + dConfirmed,
			Doc: bytes.Clone(doc), Tag: bytes.Clone(sealed.Tag), ConfirmedTag: bytes.Clone(sealed.ConfirmedTag)}
		changed := dRev != 0 || dConfirmed != 0
		switch {
		case at < 0: // truncate the document
			if n := -at % (len(r.Doc) + 1); n > 0 {
				r.Doc, changed = r.Doc[:len(r.Doc)-n], true
			}
		case len(patch) > 0: // overwrite, and perhaps extend, the document
			at %= len(r.Doc)
			r.Doc = append(r.Doc[:at:at], append(patch, r.Doc[min(at+len(patch), len(r.Doc)):]...)...)
			changed = changed || !bytes.Equal(r.Doc, doc)
		}
		tags := [][]byte{r.Tag, r.ConfirmedTag}
		if flip != 0 {
			tg := tags[tagAt&1]
			tg[uint(tagAt>>1)%uint(len(tg))] ^= flip
			changed = true
		}
		switch cut % 3 {
		case 1:
			r.Tag, changed = r.Tag[:len(r.Tag)/2], true
		case 2:
			r.ConfirmedTag, changed = nil, true
		}
		err := fb.verify(id, r)
		if changed && err == nil {
			t.Fatalf("a changed copy verified: revision %+d, confirmed %+d, document %d bytes", dRev, dConfirmed, len(r.Doc))
		}
		if !changed && err != nil {
			t.Fatalf("the unchanged copy failed: %v", err)
		}
		if err != nil && !errors.Is(err, ErrSnapshotUnverified) {
			t.Fatalf("refusal does not wrap ErrSnapshotUnverified: %v", err)
		}
	})
}
