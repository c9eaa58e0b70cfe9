package gormscope_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/adapters/gormscope"
	"github.com/civic-platform/security/internal/testdb"
)

// Case is the row type of the tests.
type Case struct {
	ID     int64   `gorm:"primaryKey;autoIncrement:false" abac:"id"`
	Kind   string  `abac:"kind"`
	Ward   *int64  `abac:"ward"`
	Level  *int64  `abac:"level"`
	Dept   *string `abac:"dept"`
	Status *string `abac:"status"`
	Owner  *string `abac:"owner"`
}

var caseColumns = map[string]string{
	"id": "id", "kind": "kind", "ward": "ward", "level": "level",
	"dept": "dept", "status": "status", "owner": "owner",
}

const createCases = `CREATE TABLE cases (
	id BIGINT PRIMARY KEY,
	kind TEXT NOT NULL DEFAULT '',
	ward BIGINT, level BIGINT, dept TEXT, status TEXT, owner TEXT)`

func openSQLite(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "cases.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	return db
}

// dryPostgres is a gorm handle with the PostgreSQL dialect that never
// connects: it is only used to look at the SQL gorm would send.
func dryPostgres(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.New(postgres.Config{DSN: "host=127.0.0.1 user=none dbname=none sslmode=disable"}),
		&gorm.Config{DryRun: true, DisableAutomaticPing: true, Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open dry-run postgres: %v", err)
	}
	return db
}

func mustFilter(t testing.TB, subject abac.Attributes, rules ...string) abac.Filter {
	t.Helper()
	var rs []abac.Rule
	for _, text := range rules {
		r, err := abac.ParseRule(text)
		if err != nil {
			t.Fatalf("ParseRule(%q): %v", text, err)
		}
		rs = append(rs, r)
	}
	return abac.FilterFor(subject, rs...)
}

func TestScopeSQL(t *testing.T) {
	t.Parallel()
	wards := mustFilter(t, abac.Attributes{"wards": {1, 2}, "id": {"u1"}},
		"ward in subject.wards and status != 'closed'", "owner = subject.id")
	dept := mustFilter(t, abac.Attributes{"dept": {"roads"}}, "dept = subject.dept")
	wardScope := gormscope.Scope(wards, caseColumns)
	deptScope := gormscope.Scope(dept, caseColumns)
	const wardSQL = "((ward IN ($2, $3) AND status <> $4) OR (owner = $5))"

	tests := []struct {
		name  string
		query func(*gorm.DB) *gorm.DB
		want  string
		vars  []any
	}{
		{
			name:  "where then scope",
			query: func(db *gorm.DB) *gorm.DB { return db.Where("kind = ?", "bylaw").Scopes(wardScope) },
			want:  `SELECT * FROM "cases" WHERE (kind = $1) AND ` + wardSQL,
			vars:  []any{"bylaw", int64(1), int64(2), "closed", "u1"},
		},
		{
			name:  "scope then where",
			query: func(db *gorm.DB) *gorm.DB { return db.Scopes(wardScope).Where("kind = ?", "bylaw") },
			want:  `SELECT * FROM "cases" WHERE (kind = $1) AND ` + wardSQL,
			vars:  []any{"bylaw", int64(1), int64(2), "closed", "u1"},
		},
		{
			name: "where with OR then scope",
			query: func(db *gorm.DB) *gorm.DB {
				return db.Where("kind = ? OR kind = ?", "bylaw", "fire").Scopes(wardScope)
			},
			want: `SELECT * FROM "cases" WHERE (kind = $1 OR kind = $2) AND ((ward IN ($3, $4) AND status <> $5) OR (owner = $6))`,
			vars: []any{"bylaw", "fire", int64(1), int64(2), "closed", "u1"},
		},
		{
			name: "where with lower-case multi-line or",
			query: func(db *gorm.DB) *gorm.DB {
				return db.Where("kind = ?\nor kind = ?", "bylaw", "fire").Scopes(deptScope)
			},
			want: `SELECT * FROM "cases" WHERE (kind = $1` + "\n" + `or kind = $2) AND (dept = $3)`,
			vars: []any{"bylaw", "fire", "roads"},
		},
		{
			name: "Or before scope is grouped",
			query: func(db *gorm.DB) *gorm.DB {
				return db.Where("kind = ?", "bylaw").Or("kind = ?", "fire").Scopes(deptScope)
			},
			want: `SELECT * FROM "cases" WHERE (kind = $1 OR kind = $2) AND (dept = $3)`,
			vars: []any{"bylaw", "fire", "roads"},
		},
		{
			name: "Or after scope in the chain is grouped too",
			query: func(db *gorm.DB) *gorm.DB {
				return db.Scopes(deptScope).Where("kind = ?", "bylaw").Or("kind = ?", "fire")
			},
			want: `SELECT * FROM "cases" WHERE (kind = $1 OR kind = $2) AND (dept = $3)`,
			vars: []any{"bylaw", "fire", "roads"},
		},
		{
			name:  "two scopes, dept first",
			query: func(db *gorm.DB) *gorm.DB { return db.Scopes(deptScope, wardScope).Where("kind = ?", "bylaw") },
			want:  `SELECT * FROM "cases" WHERE (kind = $1) AND (dept = $2) AND ((ward IN ($3, $4) AND status <> $5) OR (owner = $6))`,
			vars:  []any{"bylaw", "roads", int64(1), int64(2), "closed", "u1"},
		},
		{
			name:  "two scopes, dept last",
			query: func(db *gorm.DB) *gorm.DB { return db.Where("kind = ?", "bylaw").Scopes(wardScope).Scopes(deptScope) },
			want:  `SELECT * FROM "cases" WHERE (kind = $1) AND ` + wardSQL + ` AND (dept = $6)`,
			vars:  []any{"bylaw", int64(1), int64(2), "closed", "u1", "roads"},
		},
		{
			name: "Or added by a later scope is grouped",
			query: func(db *gorm.DB) *gorm.DB {
				return db.Scopes(deptScope, func(db *gorm.DB) *gorm.DB { return db.Where("kind = ?", "bylaw").Or("kind = ?", "fire") })
			},
			want: `SELECT * FROM "cases" WHERE (kind = $1 OR kind = $2) AND (dept = $3)`,
			vars: []any{"bylaw", "fire", "roads"},
		},
		{
			name: "Not and map Or after the scope",
			query: func(db *gorm.DB) *gorm.DB {
				return db.Scopes(deptScope).Not("kind = ?", "x").Or(map[string]any{"kind": "fire"})
			},
			want: `SELECT * FROM "cases" WHERE (NOT kind = $1 OR "cases"."kind" = $2) AND (dept = $3)`,
			vars: []any{"x", "fire", "roads"},
		},
		{
			name: "struct Or after the scope",
			query: func(db *gorm.DB) *gorm.DB {
				return db.Scopes(deptScope).Where(&Case{Kind: "bylaw"}).Or(&Case{Kind: "fire"})
			},
			want: `SELECT * FROM "cases" WHERE ("cases"."kind" = $1 OR "cases"."kind" = $2) AND (dept = $3)`,
			vars: []any{"bylaw", "fire", "roads"},
		},
		{
			name:  "scope alone",
			query: func(db *gorm.DB) *gorm.DB { return db.Scopes(deptScope) },
			want:  `SELECT * FROM "cases" WHERE (dept = $1)`,
			vars:  []any{"roads"},
		},
		{
			name: "all adds nothing",
			query: func(db *gorm.DB) *gorm.DB {
				return db.Where("kind = ?", "bylaw").Scopes(gormscope.Scope(abac.All(), caseColumns))
			},
			want: `SELECT * FROM "cases" WHERE kind = $1`,
			vars: []any{"bylaw"},
		},
		{
			name: "none",
			query: func(db *gorm.DB) *gorm.DB {
				return db.Where("kind = ?", "bylaw").Scopes(gormscope.Scope(abac.None(), caseColumns))
			},
			want: `SELECT * FROM "cases" WHERE (kind = $1) AND (1 = 0)`,
			vars: []any{"bylaw"},
		},
		{
			name:  "zero filter",
			query: func(db *gorm.DB) *gorm.DB { return db.Scopes(gormscope.Scope(abac.Filter{}, nil)) },
			want:  `SELECT * FROM "cases" WHERE (1 = 0)`,
		},
		{
			name: "unbound rule",
			query: func(db *gorm.DB) *gorm.DB {
				return db.Scopes(gormscope.Scope(mustFilter(t, nil, "dept = subject.dept"), caseColumns))
			},
			want: `SELECT * FROM "cases" WHERE (1 = 0)`,
		},
	}
	pg := dryPostgres(t)
	lite := openSQLite(t).Session(&gorm.Session{DryRun: true})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rows []Case
			stmt := tt.query(pg.Table("cases")).Find(&rows).Statement
			if err := stmt.Error; err != nil {
				t.Fatalf("postgres: %v", err)
			}
			if got := stmt.SQL.String(); got != tt.want {
				t.Errorf("postgres SQL\n got %s\nwant %s", got, tt.want)
			}
			if !reflect.DeepEqual(stmt.Vars, tt.vars) && (len(stmt.Vars) > 0 || len(tt.vars) > 0) {
				t.Errorf("postgres vars = %#v, want %#v", stmt.Vars, tt.vars)
			}

			stmt = tt.query(lite.Table("cases")).Find(&rows).Statement
			if err := stmt.Error; err != nil {
				t.Fatalf("sqlite: %v", err)
			}
			want := strings.ReplaceAll(strings.ReplaceAll(tt.want, `"cases"`, "`cases`"), `"kind"`, "`kind`")
			for i := len(tt.vars); i >= 1; i-- {
				want = strings.ReplaceAll(want, "$"+strconv.Itoa(i), "?")
			}
			if got := stmt.SQL.String(); got != want {
				t.Errorf("sqlite SQL\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestScopeUnknownFieldFailsClosed(t *testing.T) {
	t.Parallel()
	f := mustFilter(t, abac.Attributes{"ward": {7}}, "ward = subject.ward and secret_flag is null")
	scope := gormscope.Scope(f, caseColumns)

	pg := dryPostgres(t)
	var rows []Case
	stmt := pg.Table("cases").Where("kind = ?", "bylaw").Scopes(scope).Find(&rows).Statement
	if !errors.Is(stmt.Error, abac.ErrUnknownField) {
		t.Fatalf("error = %v, want ErrUnknownField", stmt.Error)
	}
	var fe *abac.FieldError
	if !errors.As(stmt.Error, &fe) || fe.Field != "secret_flag" {
		t.Errorf("error %v does not name the field", stmt.Error)
	}

	// On a real database the query fails and returns nothing.
	db := openSQLite(t)
	seed(t, db, []Case{{ID: 1, Ward: ptr(int64(7))}})
	err := db.Table("cases").Scopes(scope).Find(&rows).Error
	if !errors.Is(err, abac.ErrUnknownField) {
		t.Errorf("Find error = %v, want ErrUnknownField", err)
	}
	if len(rows) != 0 {
		t.Errorf("Find returned %d rows with an unknown field", len(rows))
	}
	// A malformed condition fails the same way.
	bad := abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{1.5}}})
	err = db.Table("cases").Scopes(gormscope.Scope(bad, caseColumns)).Find(&rows).Error
	if !errors.Is(err, abac.ErrInvalidFilter) || len(rows) != 0 {
		t.Errorf("malformed filter: error = %v, %d rows", err, len(rows))
	}
}

func ptr[T any](v T) *T { return &v }

func seed(t testing.TB, db *gorm.DB, rows []Case) {
	t.Helper()
	if err := db.Exec(createCases).Error; err != nil {
		t.Fatalf("create table: %v", err)
	}
	if len(rows) > 0 {
		if err := db.Table("cases").Create(&rows).Error; err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
}

// TestScopeNeverLeaksAnotherDepartment runs the compositions of
// TestScopeSQL on real data and checks that no row of another department
// comes back.
func TestScopeNeverLeaksAnotherDepartment(t *testing.T) {
	t.Parallel()
	var rows []Case
	id := int64(0)
	for _, dept := range []string{"roads", "parks", "water"} {
		for _, kind := range []string{"bylaw", "fire"} {
			for _, ward := range []int64{1, 2, 3} {
				id++
				rows = append(rows, Case{ID: id, Kind: kind, Ward: ptr(ward), Dept: ptr(dept), Status: ptr("open"), Owner: ptr("u1")})
			}
		}
	}
	id++
	rows = append(rows, Case{ID: id, Kind: "bylaw", Ward: ptr(int64(1))}) // NULL dept

	dept := gormscope.Scope(mustFilter(t, abac.Attributes{"dept": {"roads"}}, "dept = subject.dept"), caseColumns)
	wards := gormscope.Scope(mustFilter(t, abac.Attributes{"wards": {1, 2}, "id": {"u1"}},
		"ward in subject.wards and status != 'closed'", "owner = subject.id"), caseColumns)
	queries := map[string]func(*gorm.DB) *gorm.DB{
		"where, scope":       func(db *gorm.DB) *gorm.DB { return db.Where("kind = ?", "bylaw").Scopes(dept) },
		"scope, where":       func(db *gorm.DB) *gorm.DB { return db.Scopes(dept).Where("kind = ?", "bylaw") },
		"where or, scope":    func(db *gorm.DB) *gorm.DB { return db.Where("kind = ? OR kind = ?", "bylaw", "fire").Scopes(dept) },
		"where, or, scope":   func(db *gorm.DB) *gorm.DB { return db.Where("kind = ?", "bylaw").Or("kind = ?", "fire").Scopes(dept) },
		"scope, where, or":   func(db *gorm.DB) *gorm.DB { return db.Scopes(dept).Where("kind = ?", "bylaw").Or("ward = ?", 3) },
		"or only, scope":     func(db *gorm.DB) *gorm.DB { return db.Or("kind = ?", "fire").Scopes(dept) },
		"dept, wards scopes": func(db *gorm.DB) *gorm.DB { return db.Scopes(dept, wards).Where("kind = ?", "bylaw") },
		"wards, dept scopes": func(db *gorm.DB) *gorm.DB { return db.Where("kind = ? or 1 = 1", "x").Scopes(wards).Scopes(dept) },
		"wards, or, dept":    func(db *gorm.DB) *gorm.DB { return db.Scopes(wards).Or("kind = ?", "fire").Scopes(dept) },
		"not, scope":         func(db *gorm.DB) *gorm.DB { return db.Not("kind = ?", "x").Scopes(dept) },
		"map condition, or": func(db *gorm.DB) *gorm.DB {
			return db.Where(map[string]any{"kind": "bylaw"}).Or(map[string]any{"kind": "fire"}).Scopes(dept)
		},
		"struct condition": func(db *gorm.DB) *gorm.DB { return db.Where(&Case{Kind: "fire"}).Scopes(dept) },
		"scope, later scope or": func(db *gorm.DB) *gorm.DB {
			return db.Scopes(dept, func(db *gorm.DB) *gorm.DB { return db.Or("kind = ?", "fire") })
		},
		"scope, not, map or": func(db *gorm.DB) *gorm.DB {
			return db.Scopes(dept).Not("kind = ?", "x").Or(map[string]any{"kind": "fire"})
		},
		"scope, struct or":     func(db *gorm.DB) *gorm.DB { return db.Scopes(dept).Where(&Case{Kind: "bylaw"}).Or(&Case{Kind: "fire"}) },
		"scope, not map":       func(db *gorm.DB) *gorm.DB { return db.Scopes(dept).Not(map[string]any{"kind": "x"}).Or("ward = ?", 2) },
		"two scopes, later or": func(db *gorm.DB) *gorm.DB { return db.Scopes(dept).Scopes(wards).Or("kind = ?", "fire") },
		"or scope before scope": func(db *gorm.DB) *gorm.DB {
			return db.Scopes(func(db *gorm.DB) *gorm.DB { return db.Or("1 = 1") }, dept)
		},
		"raw or in where arg": func(db *gorm.DB) *gorm.DB { return db.Where("kind = ?", "') OR ('1'='1").Scopes(dept) },
	}
	for name, open := range map[string]func(testing.TB) *gorm.DB{"sqlite": openSQLite, "postgres": testdb.Postgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			seed(t, db, rows)
			for qname, q := range queries {
				var got []Case
				if err := q(db.Table("cases")).Find(&got).Error; err != nil {
					t.Fatalf("%s: %v", qname, err)
				}
				if len(got) == 0 && qname != "raw or in where arg" {
					t.Errorf("%s: no rows; the test would prove nothing", qname)
				}
				for _, c := range got {
					if c.Dept == nil || *c.Dept != "roads" {
						t.Errorf("%s: leaked case %d of department %v", qname, c.ID, deref(c.Dept))
					}
				}
			}
		})
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// TestScopeOnCountUpdateDelete checks that the grouping holds for the
// statements that change or count rows, not only for Find.
func TestScopeOnCountUpdateDelete(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	seed(t, db, []Case{
		{ID: 1, Kind: "bylaw", Dept: ptr("roads")}, {ID: 2, Kind: "fire", Dept: ptr("roads")},
		{ID: 3, Kind: "bylaw", Dept: ptr("parks")}, {ID: 4, Kind: "fire", Dept: ptr("parks")}, {ID: 5, Kind: "fire"},
	})
	dept := gormscope.Scope(mustFilter(t, abac.Attributes{"dept": {"roads"}}, "dept = subject.dept"), caseColumns)
	var n int64
	if err := db.Table("cases").Scopes(dept).Where("kind = ?", "bylaw").Or("kind = ?", "fire").Count(&n).Error; err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	res := db.Table("cases").Scopes(dept).Where("kind = ?", "bylaw").Or("kind = ?", "fire").Update("status", "seen")
	if res.Error != nil || res.RowsAffected != 2 {
		t.Errorf("Update: %d rows, %v; want 2", res.RowsAffected, res.Error)
	}
	res = db.Table("cases").Scopes(dept).Not("kind = ?", "x").Or("1 = 1").Delete(&Case{})
	if res.Error != nil || res.RowsAffected != 2 {
		t.Errorf("Delete: %d rows, %v; want 2", res.RowsAffected, res.Error)
	}
	var left []int64
	if err := db.Table("cases").Order("id").Pluck("id", &left).Error; err != nil || !reflect.DeepEqual(left, []int64{3, 4, 5}) {
		t.Errorf("rows left %v, %v", left, err)
	}
	// A filter that admits nothing deletes nothing, even with no other
	// condition.
	res = db.Table("cases").Scopes(gormscope.Scope(abac.None(), caseColumns)).Delete(&Case{})
	if res.Error != nil || res.RowsAffected != 0 {
		t.Errorf("Delete under None: %d rows, %v", res.RowsAffected, res.Error)
	}
}
