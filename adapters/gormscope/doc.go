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
// The condition is parenthesised and ANDed with the statement's other
// conditions; if the statement already holds an Or condition when the scope
// runs, the existing conditions are grouped first, so
// db.Where(a).Or(b).Scopes(scope) means (a OR b) AND scope, not
// a OR (b AND scope). An Or added by a scope that runs after this one still
// combines with everything before it, as gorm's Or always does: register
// this scope last if other scopes use Or.
//
// Scope functions hold no state beyond their arguments and are safe for
// concurrent use; do not modify the filter or the allow-list after passing
// them in.
package gormscope
