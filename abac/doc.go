// Package abac holds data-scope rules ("a clerk sees only their ward's
// cases") and the [Filter] they produce for one subject.
//
// A [Rule] is parsed once from text such as
//
//	ward = subject.ward and status in ('open', 'pending')
//
// and bound to a subject's [Attributes] with [Rule.Bind] (or [FilterFor] for
// several rules at once). The result is a [Filter]: plain data that says
// which records the subject may see. A Filter has three distinct states —
// everything ([All]), nothing ([None], also the zero value) and "these
// conditions" (an OR of [Conj], each an AND of [Cond]) — so a forgotten or
// failed filter matches no rows rather than every row.
//
// A Filter can evaluate one record in memory ([Filter.Match]) and render
// itself as a parenthesised SQL predicate with bound parameters
// ([Filter.SQL], [Filter.AppendSQL]) for PostgreSQL or SQLite. Column names
// come only from the caller's allow-list; values are never spliced into the
// SQL text. Match and the SQL agree on NULL: a NULL (or missing) field
// satisfies only "is null", and "!=" and "not in" are false against NULL,
// as in SQL. [Filter.Simplify] combines the conditions of a conjunction on
// one field without changing the answer.
//
// The data-scope filters that package iam builds use these semantics to
// fail closed: a deny never becomes "or NULL", so a record whose scope
// field is NULL (it cannot be placed) is denied by every deny of that kind,
// and is admitted only by a grant at org or by a rule that says "field is
// null" explicitly.
//
// # Types of values
//
// Values are strings or integers (int64). A rule literal keeps its type
// ('7' is a string, 7 an integer); subject attributes and record fields of
// any Go integer type are widened to int64 and of any string kind to string.
// A string never equals an integer: in memory, comparing a string with an
// integer is false for every operator, including "!=". Databases are less
// strict: PostgreSQL (through pgx) parses a string parameter compared with
// an integer column, so '7', ' 7' and '007' all equal 7 there, and fails the
// query when an integer is compared with a text column; SQLite applies
// column affinity. So give every attribute and literal the type of the
// column it is compared with: int64 (or any Go integer) for integer columns,
// string for text, varchar, uuid and enum columns. With types that agree,
// Match and the SQL return the same rows; a randomized test in
// adapters/gormscope checks this on PostgreSQL and SQLite.
//
// # What it does not do
//
// abac does not decide whether a subject holds a permission (package rbac
// does), does not know where rules are stored, and does not import gorm or
// any database driver: the gorm scope lives in adapters/gormscope.
//
// # Concurrency
//
// The package has no global state and starts no goroutines. [Rule] and
// [Filter] values are immutable once built and safe for concurrent use as
// long as callers do not modify the slices they expose. A [Tagged] is safe
// for concurrent use.
package abac
