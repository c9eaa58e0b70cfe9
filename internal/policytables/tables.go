package policytables

import "errors"

// Table and index names.
const (
	// RuleTable is gorm-adapter's table of Casbin policy lines.
	RuleTable = "casbin_rule"
	// RuleIndex is the unique index gorm-adapter creates on RuleTable.
	RuleIndex = "idx_casbin_rule"
	// RevisionTable holds the one-row revision counter.
	RevisionTable = "iam_policy_revision"
	// ExtrasTable holds, in one row, the model parts that have no Casbin
	// lines (conflict rules and waivers) as casbinx's extras document.
	ExtrasTable = "iam_policy_extras"
)

// ErrNotMigrated is wrapped by the error a store returns when its tables or
// its revision row do not exist: the database needs Migrate.
var ErrNotMigrated = errors.New("policy tables not migrated")
