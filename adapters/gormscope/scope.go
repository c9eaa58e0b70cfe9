package gormscope

import (
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/civic-platform/security/abac"
)

// Scope returns a gorm scope that restricts a statement to the rows f
// admits. cols maps each logical field of f to its column expression
// (for example "ward" to "cases.ward_id"); it is the only source of column
// text, so policy text cannot inject SQL. A column expression must not
// contain "?", which gorm reads as a placeholder.
//
// [abac.All] leaves the statement unchanged; [abac.None] (and the zero
// Filter) adds "(1 = 0)". If f cannot be rendered — a field with no column
// ([abac.ErrUnknownField]) or a malformed condition
// ([abac.ErrInvalidFilter]) — the scope adds the error to the statement, so
// the query fails with an error for which errors.Is reports the abac
// sentinel, and also adds "(1 = 0)".
func Scope(f abac.Filter, cols map[string]string) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		if f.MatchesAll() {
			return db
		}
		if f.MatchesNone() {
			return where(db, predicate{SQL: "(1 = 0)"})
		}
		// gorm takes ? placeholders for every dialect and rewrites them
		// ($1, ... on PostgreSQL) as it binds the arguments.
		sql, args, err := f.SQL(abac.SQLite, cols)
		if err != nil {
			db.AddError(fmt.Errorf("gormscope: %w", err))
			return where(db, predicate{SQL: "(1 = 0)"})
		}
		return where(db, predicate{SQL: sql, Vars: args})
	}
}

// predicate is rendered SQL that is already parenthesised. It is not a
// clause.Expr, so gorm does not guess whether to add parentheses.
type predicate clause.Expr

func (p predicate) Build(b clause.Builder) { clause.Expr(p).Build(b) }

// group is a set of WHERE conditions rendered inside parentheses.
type group []clause.Expression

func (g group) Build(b clause.Builder) {
	b.WriteByte('(')
	// Where.Build may reorder its slice; give it a copy.
	clause.Where{Exprs: append([]clause.Expression(nil), g...)}.Build(b)
	b.WriteByte(')')
}

// where ANDs p with the statement's conditions. If those conditions could
// contain a top-level OR, which binds looser than AND, it first groups them
// so that p restricts all of them.
func where(db *gorm.DB, p predicate) *gorm.DB {
	if c, ok := db.Statement.Clauses["WHERE"]; ok {
		if w, ok := c.Expression.(clause.Where); ok && mayHaveOr(w.Exprs) {
			c.Expression = clause.Where{Exprs: []clause.Expression{group(append([]clause.Expression(nil), w.Exprs...))}}
			db.Statement.Clauses["WHERE"] = c
		}
	}
	return db.Where(p)
}

// mayHaveOr reports whether joining exprs with AND could leave an OR at the
// top level. Expression types it does not know are assumed to.
func mayHaveOr(exprs []clause.Expression) bool {
	for _, e := range exprs {
		if orNeedsGroup(e) {
			return true
		}
	}
	return false
}

func orNeedsGroup(e clause.Expression) bool {
	switch v := e.(type) {
	case predicate, group, clause.Eq, clause.Neq, clause.IN, clause.Gt, clause.Gte, clause.Lt, clause.Lte, clause.Like, clause.NotConditions:
		return false
	case clause.Expr:
		return hasOrWord(v.SQL)
	case clause.NamedExpr:
		return hasOrWord(v.SQL)
	}
	return true // OrConditions, AndConditions, custom expressions
}

// hasOrWord reports whether s contains "or" (in any case) as a word.
func hasOrWord(s string) bool {
	for i := 0; i+2 <= len(s); i++ {
		if (s[i] == 'o' || s[i] == 'O') && (s[i+1] == 'r' || s[i+1] == 'R') &&
			(i == 0 || !isIdent(s[i-1])) && (i+2 == len(s) || !isIdent(s[i+2])) {
			return true
		}
	}
	return false
}

func isIdent(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
