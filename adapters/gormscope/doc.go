// Package gormscope applies an [abac.Filter] to gorm queries as a scope:
//
//	err := db.Scopes(gormscope.Scope(filter, caseColumns)).Find(&cases).Error
//
// It owns only the translation from the filter to a gorm WHERE condition.
// The filter itself, its rules and its NULL semantics belong to package
// abac; which filter a subject gets is decided by the caller (package iam).
//
// Column names come from the caller's allow-list, never from the policy,
// and values are bound parameters. A filter naming a field with no column
// makes the query fail (the scope adds an error to the statement) and also
// restricts it to no rows, so a mistake never widens what a subject sees.
//
// The scope keeps its condition out of gorm's list of WHERE conditions and
// writes the clause itself as
//
//	WHERE (<every condition of the caller's>) AND (<the filter>)
//
// so the caller's conditions are always grouped, however and whenever they
// were added: Where, Or, Not, map and struct conditions, before or after
// the scope in the chain, by scopes that run after it, or by callbacks such
// as soft delete. db.Where(a).Scopes(scope).Or(b) means (a OR b) AND scope,
// never a OR b OR scope. Several gormscope scopes on one statement are all
// ANDed. A scoped statement used as a group condition of another
// (db.Where(scoped)) or as a subquery carries the filter with it:
// (its conditions) AND (the filter). A dialect that builds WHERE clauses itself (gorm's ClauseBuilders)
// would bypass this, so the scope fails the query with
// [ErrWhereOverridden] there instead.
//
// Statements that do not go through the WHERE clause cannot be restricted,
// so under the scope they fail with [ErrNotApplicable] and run nothing:
// Raw and Exec, and upserts — Save of a row the filter does not admit
// (gorm then tries INSERT ... ON CONFLICT DO UPDATE, which would overwrite
// it) and Create with an updating clause.OnConflict. Create, and Create with
// OnConflict{DoNothing: true}, insert as usual.
//
// Scope functions hold no state beyond their arguments and are safe for
// concurrent use; do not modify the filter or the allow-list after passing
// them in.
package gormscope
