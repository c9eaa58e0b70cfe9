package pgnotify

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/civic-platform/security/internal/policytables"
)

// Names of what [Migrate] installs.
const (
	// TriggerFunction is the trigger function: pg_notify(channel, revision).
	TriggerFunction = "iam_policy_revision_notify"
	// Trigger is the AFTER UPDATE trigger on iam_policy_revision.
	Trigger = "iam_policy_revision_notify"
)

// Migrate installs, on the iam_policy_revision table that pgstore.Migrate
// creates, a trigger that runs pg_notify(channel, NEW.revision::text)
// after every update of the revision. Every policy write bumps the
// revision inside its own transaction, so every committed change is
// notified, whoever wrote it and through whatever code, with its revision
// as the payload; PostgreSQL delivers the notification at commit and not
// at all on rollback. channel "" means [DefaultChannel].
//
// Migrate is idempotent and runs in one transaction. The function and the
// trigger are created in the first schema of db's search_path, beside the
// table. Run pgstore.Migrate first: without the table Migrate fails with
// an error wrapping pgstore.ErrNotMigrated.
func Migrate(ctx context.Context, db *gorm.DB, channel string) error {
	if db == nil {
		return errors.New("pgnotify: Migrate: nil *gorm.DB")
	}
	if channel == "" {
		channel = DefaultChannel
	}
	if err := checkChannel(channel); err != nil {
		return err
	}
	err := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Transaction(func(tx *gorm.DB) error {
		var r struct{ N int64 }
		if err := tx.Raw("SELECT CASE WHEN to_regclass(?) IS NULL THEN 0 ELSE 1 END AS n", policytables.RevisionTable).Scan(&r).Error; err != nil {
			return err
		}
		if r.N == 0 {
			return fmt.Errorf("%w: table %s does not exist; run pgstore.Migrate first", policytables.ErrNotMigrated, policytables.RevisionTable)
		}
		for _, stmt := range []string{
			`CREATE OR REPLACE FUNCTION ` + TriggerFunction + `() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify(TG_ARGV[0], NEW.revision::text);
	RETURN NULL;
END
$$`,
			`DROP TRIGGER IF EXISTS ` + Trigger + ` ON ` + policytables.RevisionTable,
			// channel is checked against [a-z0-9_]: safe inside quotes.
			`CREATE TRIGGER ` + Trigger + ` AFTER UPDATE OF revision ON ` + policytables.RevisionTable +
				` FOR EACH ROW EXECUTE FUNCTION ` + TriggerFunction + `('` + channel + `')`,
		} {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgnotify: migrate: %w", err)
	}
	return nil
}
