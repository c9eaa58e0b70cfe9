package gormscope_test

import (
	"database/sql"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/adapters/gormscope"
	"github.com/civic-platform/security/internal/testdb"
)

var agreementSeed = flag.Uint64("agreement.seed", 20250314, "seed of TestMatchAgreesWithSQL")

// Value pools. Strings are valid UTF-8 without NUL, which PostgreSQL text
// cannot hold; the abac tests cover NUL and invalid UTF-8 in the SQL text.
var (
	intPool = []int64{-1, 0, 1, 2, 3, 7, 1 << 40}
	strPool = []string{
		"a", "b", "A", "roads", "parks", "", " a", "a ", "O'Brien", "''", "x' OR '1'='1",
		"1); DROP TABLE cases; --", "--", ";", "7", "1", "$1", "?", "%", "_", `\`, `"`,
		"é", "e\u0301", "ｗａｒｄ", "东京", "ward\u202e", "NULL", "null",
	}
	intFields = []string{"ward", "level"}
	strFields = []string{"dept", "status", "owner"}
)

type generator struct{ r *rand.Rand }

func (g generator) isInt(field string) bool { return field == "ward" || field == "level" }

func (g generator) field() string {
	all := append(append([]string(nil), intFields...), strFields...)
	return all[g.r.IntN(len(all))]
}

// value returns a value of the field's type: int64 or string.
func (g generator) value(field string) any {
	if g.isInt(field) {
		return intPool[g.r.IntN(len(intPool))]
	}
	return strPool[g.r.IntN(len(strPool))]
}

// lit returns a value of the field's type written as a rule literal. Rule
// literals cannot hold bidirectional formatting characters; attributes can.
func (g generator) lit(field string) string {
	for {
		v := g.value(field)
		if s, ok := v.(string); !ok || !strings.ContainsRune(s, '\u202e') {
			return literal(v)
		}
	}
}

func literal(v any) string {
	if s, ok := v.(string); ok {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return fmt.Sprint(v)
}

// rule returns rule text and the subject attributes it may use.
func (g generator) rule(attrs map[string]string) string {
	n := 1 + g.r.IntN(3)
	conds := make([]string, n)
	for i := range conds {
		field := g.field()
		attr := func() string {
			name := fmt.Sprintf("%s_%d", field, g.r.IntN(2))
			attrs[name] = field
			return "subject." + name
		}
		switch op := g.r.IntN(10); {
		case op < 3:
			rhs := g.lit(field)
			if g.r.IntN(2) == 0 {
				rhs = attr()
			}
			conds[i] = field + " = " + rhs
		case op < 5:
			rhs := g.lit(field)
			if g.r.IntN(2) == 0 {
				rhs = attr()
			}
			conds[i] = field + " != " + rhs
		case op < 8:
			if g.r.IntN(2) == 0 {
				conds[i] = field + " in " + attr()
				break
			}
			k := 1 + g.r.IntN(3)
			lits := make([]string, k)
			for j := range lits {
				lits[j] = g.lit(field)
			}
			conds[i] = field + " in (" + strings.Join(lits, ", ") + ")"
		case op < 9:
			conds[i] = field + " is null"
		default:
			conds[i] = field + " is not null"
		}
	}
	return strings.Join(conds, " and ")
}

func (g generator) subject(attrs map[string]string) abac.Attributes {
	s := abac.Attributes{}
	for _, name := range slices.Sorted(maps.Keys(attrs)) { // deterministic order
		field := attrs[name]
		switch p := g.r.IntN(20); {
		case p == 0: // missing
		case p == 1:
			s[name] = []any{} // empty
		case p < 16:
			s[name] = []any{g.value(field)}
		default:
			vals := make([]any, 2+g.r.IntN(2))
			for i := range vals {
				vals[i] = g.value(field)
			}
			s[name] = vals
		}
	}
	return s
}

// filter returns a random filter: mostly rules bound to a subject,
// sometimes intersected with a second one, sometimes All or None.
func (g generator) filter(t *testing.T) (abac.Filter, string) {
	t.Helper()
	switch g.r.IntN(40) {
	case 0:
		return abac.All(), "all"
	case 1:
		return abac.None(), "none"
	}
	build := func() (abac.Filter, string) {
		attrs := map[string]string{}
		var rules []abac.Rule
		var texts []string
		for range 1 + g.r.IntN(3) {
			text := g.rule(attrs)
			r, err := abac.ParseRule(text)
			if err != nil {
				t.Fatalf("generated rule %q does not parse: %v", text, err)
			}
			rules = append(rules, r)
			texts = append(texts, text)
		}
		subject := g.subject(attrs)
		return abac.FilterFor(subject, rules...), fmt.Sprintf("rules %q subject %v", texts, subject)
	}
	f, desc := build()
	if g.r.IntN(4) == 0 {
		f2, desc2 := build()
		f, desc = f.And(f2), desc+" AND "+desc2
	}
	if g.r.IntN(4) == 0 { // the "not in" that data scopes use for denies
		field := g.field()
		vals := make([]any, 1+g.r.IntN(3))
		for i := range vals {
			vals[i] = g.value(field)
		}
		f = f.And(abac.FromConj(abac.Conj{{Field: field, Op: abac.OpIsNull}}, abac.Conj{{Field: field, Op: abac.OpNotIn, Values: vals}}))
		desc += fmt.Sprintf(" AND (%s is null or not in %v)", field, vals)
	}
	if g.r.IntN(3) == 0 {
		f = f.Simplify()
	}
	return f, desc
}

func (g generator) rows(n int) []Case {
	rows := make([]Case, n)
	for i := range rows {
		c := Case{ID: int64(i + 1), Kind: []string{"bylaw", "fire"}[g.r.IntN(2)]}
		for _, f := range []struct {
			name string
			i    **int64
			s    **string
		}{{"ward", &c.Ward, nil}, {"level", &c.Level, nil}, {"dept", nil, &c.Dept}, {"status", nil, &c.Status}, {"owner", nil, &c.Owner}} {
			if g.r.IntN(4) == 0 {
				continue // NULL
			}
			if f.i != nil {
				*f.i = ptr(g.value(f.name).(int64))
			} else {
				*f.s = ptr(g.value(f.name).(string))
			}
		}
		rows[i] = c
	}
	return rows
}

// TestMatchAgreesWithSQL is the proof that Filter.Match and the SQL agree:
// for random rules, subjects and rows it checks, on PostgreSQL and SQLite,
// that the rows returned through gormscope and through Filter.AppendSQL
// are exactly the rows Match accepts.
func TestMatchAgreesWithSQL(t *testing.T) {
	t.Parallel()
	const (
		rowsPerBatch     = 40
		filtersPerBatch  = 40
		maxReportedFails = 10
	)
	batches := 25 // 1,000 filters
	if raceEnabled || testing.Short() {
		batches = 8
	}
	seed := *agreementSeed
	t.Logf("seed %d (rerun with: go test ./adapters/gormscope -run TestMatchAgreesWithSQL -args -agreement.seed=%d)", seed, seed)

	dbs := []struct {
		name    string
		open    func(testing.TB) *gorm.DB
		dialect abac.Dialect
		param   string
	}{
		{"sqlite", openSQLite, abac.SQLite, "?"},
		{"postgres", testdb.Postgres, abac.Postgres, "$1"},
	}
	for _, d := range dbs {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			g := generator{r: rand.New(rand.NewPCG(seed, 0xabac))}
			db := d.open(t)
			if err := db.Exec(createCases).Error; err != nil {
				t.Fatalf("create table: %v", err)
			}
			sqlDB, err := db.DB()
			if err != nil {
				t.Fatal(err)
			}
			var tagged abac.Tagged
			fails, cases, matched := 0, 0, 0
			for batch := range batches {
				rows := g.rows(rowsPerBatch)
				if err := db.Exec("DELETE FROM cases").Error; err != nil {
					t.Fatal(err)
				}
				if err := db.Table("cases").Create(&rows).Error; err != nil {
					t.Fatalf("insert: %v", err)
				}
				for i := range filtersPerBatch {
					f, desc := g.filter(t)
					cases++
					var want []int64
					for _, row := range rows {
						rec, err := tagged.Record(&row)
						if err != nil {
							t.Fatal(err)
						}
						if f.Match(rec) {
							want = append(want, row.ID)
						}
					}
					matched += len(want)

					// Through gormscope, with conditions of the caller's own
					// chained before and after it: the rows are those both
					// the caller's conditions and the filter admit.
					chain := callerChains[g.r.IntN(len(callerChains))]
					var viaScope, wantChain []int64
					err := chain.query(db.Table("cases"), gormscope.Scope(f, caseColumns)).Order("id").Pluck("id", &viaScope).Error
					if err != nil {
						t.Fatalf("batch %d filter %d: gormscope: %v\nfilter %v\n%s", batch, i, err, f, desc)
					}
					for _, row := range rows {
						if chain.keeps(row) && slices.Contains(want, row.ID) {
							wantChain = append(wantChain, row.ID)
						}
					}

					// Through Filter.AppendSQL after a condition of the caller's own.
					q, args, err := f.AppendSQL([]byte("SELECT id FROM cases WHERE id > "+d.param+" AND "), []any{int64(0)}, d.dialect, caseColumns)
					if err != nil {
						t.Fatalf("AppendSQL: %v", err)
					}
					viaSQL, err := queryIDs(sqlDB, string(q)+" ORDER BY id", args)
					if err != nil {
						t.Fatalf("batch %d filter %d: %s %v: %v", batch, i, q, args, err)
					}

					if !sameIDs(viaScope, wantChain) || !sameIDs(viaSQL, want) {
						fails++
						if fails <= maxReportedFails {
							t.Errorf("batch %d filter %d disagree:\nfilter  %v\nfrom    %s\nSQL     %s %q\nMatch   %v\nchain   %s: want %v, scope %v\nraw SQL %v",
								batch, i, f, desc, q, args, want, chain.name, wantChain, viaScope, viaSQL)
						}
					}
				}
			}
			t.Logf("%d filters over %d rows each, %d row matches, %d disagreements, %v", cases, rowsPerBatch, matched, fails, time.Since(start))
			if matched == 0 || matched == cases*rowsPerBatch {
				t.Errorf("degenerate test: %d matches", matched)
			}
		})
	}
}

// callerChains are conditions a caller chains around the scope, with the
// rows each keeps.
var callerChains = []struct {
	name  string
	query func(db *gorm.DB, scope func(*gorm.DB) *gorm.DB) *gorm.DB
	keeps func(Case) bool
}{
	{"where, or, scope", func(db *gorm.DB, s func(*gorm.DB) *gorm.DB) *gorm.DB {
		return db.Where("kind = ?", "bylaw").Or("kind <> ?", "bylaw").Scopes(s)
	}, func(Case) bool { return true }},
	{"scope, not, map or", func(db *gorm.DB, s func(*gorm.DB) *gorm.DB) *gorm.DB {
		return db.Scopes(s).Not("kind = ?", "bylaw").Or(map[string]any{"kind": "none"})
	}, func(c Case) bool { return c.Kind != "bylaw" }},
	{"struct, scope, struct or", func(db *gorm.DB, s func(*gorm.DB) *gorm.DB) *gorm.DB {
		return db.Where(&Case{Kind: "fire"}).Scopes(s).Or(&Case{Kind: "none"})
	}, func(c Case) bool { return c.Kind == "fire" }},
	{"scope, later scope with or", func(db *gorm.DB, s func(*gorm.DB) *gorm.DB) *gorm.DB {
		return db.Where("kind = ?", "fire").Scopes(s, func(db *gorm.DB) *gorm.DB { return db.Or("kind = ?", "bylaw") })
	}, func(Case) bool { return true }},
	{"not map, scope, or", func(db *gorm.DB, s func(*gorm.DB) *gorm.DB) *gorm.DB {
		return db.Not(map[string]any{"kind": "fire"}).Scopes(s).Or("kind = ?", "none")
	}, func(c Case) bool { return c.Kind != "fire" }},
}

func queryIDs(db *sql.DB, q string, args []any) ([]int64, error) {
	rows, err := db.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func sameIDs(a, b []int64) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}
