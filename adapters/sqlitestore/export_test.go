package sqlitestore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/civic-platform/security/internal/instant"
)

// SaveRawSnapshot writes doc as the kept copy with valid tags, so that
// tests reach the decoder with documents SaveSnapshot never writes.
func (f *SnapshotStore) SaveRawSnapshot(ctx context.Context, revision int64, confirmed time.Time, doc []byte) error {
	at := instant.Of(confirmed)
	return f.s.s.DB().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		id, err := storeID(tx)
		if err != nil {
			return err
		}
		tag := f.contentTag(id, revision, doc)
		return tx.Exec("INSERT INTO "+SnapshotTable+" (id, revision, confirmed, doc, tag, confirmed_tag) VALUES (1, ?, ?, ?, ?, ?) "+
			"ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, confirmed = excluded.confirmed, doc = excluded.doc, "+
			"tag = excluded.tag, confirmed_tag = excluded.confirmed_tag",
			revision, at, doc, tag, f.confirmedTag(id, revision, at, tag)).Error
	})
}
