package gormscope

import (
	"errors"
	"fmt"
	"slices"

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
// Filter) restricts it to no rows. If f cannot be rendered — a field with
// no column ([abac.ErrUnknownField]) or a malformed condition
// ([abac.ErrInvalidFilter]) — the scope adds the error to the statement, so
// the query fails with an error for which errors.Is reports the abac
// sentinel, and also restricts it to no rows.
//
// The statement's WHERE clause is then written as
//
//	WHERE (<the caller's conditions>) AND (<f>)
//
// however the caller's conditions were added — Where, Or, Not, map and
// struct conditions, before or after the scope in the chain, by other
// scopes, or by callbacks such as soft delete — so no Or of the caller's
// can widen what f admits. Raw SQL and upserts, which do not go through
// WHERE, fail with [ErrNotApplicable].
func Scope(f abac.Filter, cols map[string]string) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		if f.MatchesAll() {
			return db
		}
		p := predicate{SQL: "(1 = 0)"}
		if !f.MatchesNone() {
			// gorm takes ? placeholders for every dialect and rewrites them
			// ($1, ... on PostgreSQL) as it binds the arguments.
			sql, args, err := f.SQL(abac.SQLite, cols)
			if err != nil {
				db.AddError(fmt.Errorf("gormscope: %w", err))
			} else {
				p = predicate{SQL: sql, Vars: args}
			}
		}
		return restrict(db, p)
	}
}

// ErrWhereOverridden is added to a statement whose dialect builds WHERE
// clauses itself (gorm's ClauseBuilders), which would drop the scope's
// condition: the query fails rather than run unrestricted.
var ErrWhereOverridden = errors.New("gormscope: the dialect builds WHERE clauses itself; the scope cannot apply")

// ErrNotApplicable is added to a statement the scope cannot restrict
// because it does not select or change rows through its WHERE clause: raw
// SQL (Raw, Exec) and upserts (Save of a row the filter does not admit,
// which gorm turns into INSERT ... ON CONFLICT DO UPDATE, or Create with an
// updating OnConflict clause), which would read or overwrite rows the
// filter does not admit. The statement fails and runs nothing.
var ErrNotApplicable = errors.New("gormscope: the statement does not go through a WHERE clause (raw SQL or an upsert); the scope cannot apply")

// predicate is rendered SQL that is already parenthesised. It is not a
// clause.Expr, so gorm does not guess whether to add parentheses.
type predicate clause.Expr

func (p predicate) Build(b clause.Builder) { clause.Expr(p).Build(b) }

// settingsKey is where a statement keeps the predicates of the scopes
// applied to it.
type settingsKey struct{}

// restrict adds p to the predicates of the statement and makes its WHERE
// clause build as "(caller's conditions) AND p1 AND p2 ...".
func restrict(db *gorm.DB, p predicate) *gorm.DB {
	stmt := db.Statement
	if _, ok := db.ClauseBuilders["WHERE"]; ok {
		db.AddError(ErrWhereOverridden)
	}
	if stmt.SQL.Len() > 0 || updates(stmt.Clauses["ON CONFLICT"]) {
		db.AddError(ErrNotApplicable)
	}
	if c, ok := stmt.Clauses["ON CONFLICT"]; ok || stmt.SQL.Len() == 0 {
		// An upsert clause added after the scope ran fails at build time.
		c.Name = "ON CONFLICT"
		c.Builder = buildOnConflict
		stmt.Clauses["ON CONFLICT"] = c
	}
	var preds []predicate
	if v, ok := stmt.Settings.Load(settingsKey{}); ok {
		preds = v.([]predicate)
	}
	// Copy on write: statements cloned from this one share the old slice.
	stmt.Settings.Store(settingsKey{}, append(slices.Clip(preds), p))
	c := stmt.Clauses["WHERE"]
	c.Name = "WHERE"
	w, _ := c.Expression.(clause.Where)
	if c.Expression != nil && !isWhere(c.Expression) {
		w = clause.Where{Exprs: []clause.Expression{c.Expression}}
	}
	// The statement's conditions so far are wrapped with the predicate, so
	// that a statement used as a group condition (db.Where(scoped)), whose
	// WHERE conditions gorm copies, carries it; buildWhere unwraps them and
	// writes the predicates once, ANDed.
	c.Expression = clause.Where{Exprs: []clause.Expression{guard{prev: w.Exprs, p: p}}}
	c.Builder = buildWhere
	stmt.Clauses["WHERE"] = c
	return db
}

// buildWhere writes a WHERE clause whose conditions are the caller's,
// grouped, ANDed with the predicates of the scopes.
func buildWhere(c clause.Clause, b clause.Builder) {
	stmt, ok := b.(*gorm.Statement)
	var preds []predicate
	if ok {
		if v, found := stmt.Settings.Load(settingsKey{}); found {
			preds = v.([]predicate)
		}
	}
	if len(preds) == 0 {
		// Not a statement of ours (or no predicate recorded): fail closed.
		preds = []predicate{{SQL: "(1 = 0)"}}
	}
	b.WriteString("WHERE ")
	expr := c.Expression
	if w, ok := expr.(clause.Where); ok {
		expr = clause.Where{Exprs: unwrap(nil, w.Exprs)}
	}
	if expr != nil && hasConditions(expr) {
		b.WriteByte('(')
		expr.Build(b)
		b.WriteString(") AND ")
	}
	for i, p := range preds {
		if i > 0 {
			b.WriteString(" AND ")
		}
		p.Build(b)
	}
}

// guard holds the WHERE conditions a statement had when a scope applied to
// it, and the scope's predicate.
type guard struct {
	prev []clause.Expression
	p    predicate
}

// Build writes "(prev) AND p", for gorm rendering the statement's
// conditions elsewhere (as a group condition of another statement).
func (g guard) Build(b clause.Builder) {
	if w := (clause.Where{Exprs: g.prev}); hasConditions(w) {
		b.WriteByte('(')
		w.Build(b)
		b.WriteString(") AND ")
	}
	g.p.Build(b)
}

// unwrap appends exprs to dst with every guard replaced by the conditions
// it holds.
func unwrap(dst, exprs []clause.Expression) []clause.Expression {
	for _, e := range exprs {
		if g, ok := e.(guard); ok {
			dst = unwrap(dst, g.prev)
			continue
		}
		dst = append(dst, e)
	}
	return dst
}

func isWhere(e clause.Expression) bool {
	_, ok := e.(clause.Where)
	return ok
}

// updates reports whether c is an ON CONFLICT clause that updates the
// conflicting row.
func updates(c clause.Clause) bool {
	oc, ok := c.Expression.(clause.OnConflict)
	return ok && (oc.UpdateAll || len(oc.DoUpdates) > 0)
}

// buildOnConflict writes an ON CONFLICT clause that does not update, and
// fails the statement for one that does.
func buildOnConflict(c clause.Clause, b clause.Builder) {
	if updates(c) {
		if stmt, ok := b.(*gorm.Statement); ok {
			stmt.AddError(ErrNotApplicable)
		}
		// Without a statement to fail, a clause that cannot be parsed.
		b.WriteString("ON CONFLICT DO UPDATE")
		return
	}
	c.Builder = nil
	c.Build(b)
}

// hasConditions reports whether e renders any condition.
func hasConditions(e clause.Expression) bool {
	w, ok := e.(clause.Where)
	if !ok {
		return true
	}
	for _, x := range w.Exprs {
		switch v := x.(type) {
		case clause.AndConditions:
			if len(v.Exprs) > 0 {
				return true
			}
		case clause.OrConditions:
			if len(v.Exprs) > 0 {
				return true
			}
		case clause.NotConditions:
			if len(v.Exprs) > 0 {
				return true
			}
		default:
			return true
		}
	}
	return false
}
