package iam_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/adapters/gormscope"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iamtest"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
)

var recordsSeed = flag.Uint64("records.seed", 20250314, "seed of TestRecordsAgreement")

// raceBuild reports whether the test binary was built with -race, which
// slows the pure-Go SQLite driver about twentyfold.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// caseRow is the row type of the agreement test: text scope columns, text
// and integer columns for data rules, NULLs everywhere but the key.
type caseRow struct {
	ID         int64   `gorm:"primaryKey;autoIncrement:false" abac:"id"`
	Department *string `abac:"department"`
	Ward       *string `abac:"ward"`
	Facility   *string `abac:"facility"`
	Owner      *string `abac:"owner"`
	Status     *string `abac:"status"`
	Level      *int64  `abac:"level"`
	Amount     *int64  `abac:"amount"`
}

const createCaseRows = `CREATE TABLE case_rows (
	id BIGINT PRIMARY KEY,
	department TEXT, ward TEXT, facility TEXT, owner TEXT, status TEXT,
	level BIGINT, amount BIGINT)`

var caseRowColumns = map[string]string{
	"id": "id", "department": "department", "ward": "ward", "facility": "facility",
	"owner": "owner", "status": "status", "level": "level", "amount": "amount",
}

// Pools. Scope ids are what rbac accepts; record values add hostile text.
var (
	recDepts      = []string{"social", "roads", "parks"}
	recWards      = []string{"1", "7", "12"}
	recFacilities = []string{"shelter", "depot", "kiosk"}
	recSubjects   = []rbac.Subject{"user:u0", "svc:u0", "user:u1", "user:u2", "user:u3", "svc:s0"}
	// recTree puts facilities under departments and under a ward, and a
	// ward under a department; parks and ward 1 are known only through
	// grants.
	recTree = []rbac.ScopeNode{
		{Scope: "dept:social"}, {Scope: "dept:roads"}, {Scope: "ward:7"}, {Scope: "ward:12", Parent: "dept:roads"},
		{Scope: "facility:shelter", Parent: "dept:social"}, {Scope: "facility:depot", Parent: "ward:12"}, {Scope: "facility:kiosk", Parent: "ward:7"},
	}
	recPerms   = []rbac.Permission{"crm.case.read", "crm.case.update", "crm.note.read"}
	recRules   = []rbac.Permission{"crm.case.read", "crm.case.update", "crm.note.read", "crm.*", "crm.case.*"}
	recHostile = []string{
		"", " social", "social ", "Social", "O'Brien", "''", "x' OR '1'='1", "1); DROP TABLE case_rows; --",
		"--", ";", "$1", "?", "%", "_", `\`, `"`, "é", "e\u0301", "ｗａｒｄ", "东京", "NULL", "null", "u0 ", "7 ", "007",
	}
	recStatuses = []string{"open", "closed", "pending"}
	recInts     = []int64{-1, 0, 1, 2, 3, 7, 1 << 40}
	recIntField = map[string]bool{"level": true, "amount": true}
)

type recGen struct{ r *rand.Rand }

func (g recGen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

// text returns a value for a text field: mostly plausible, sometimes hostile.
func (g recGen) text(field string) string {
	if g.r.IntN(4) == 0 {
		return g.pick(recHostile)
	}
	switch field {
	case "department":
		return g.pick(recDepts)
	case "ward":
		return g.pick(recWards)
	case "facility":
		return g.pick(recFacilities)
	case "owner": // a whole subject, or the bare id that must not match one
		sub := string(recSubjects[g.r.IntN(len(recSubjects))])
		if g.r.IntN(3) == 0 {
			_, id, _ := strings.Cut(sub, ":")
			return id
		}
		return sub
	}
	return g.pick(recStatuses)
}

func (g recGen) value(field string) any {
	if recIntField[field] {
		return recInts[g.r.IntN(len(recInts))]
	}
	return g.text(field)
}

func (g recGen) rows(n int) []caseRow {
	rows := make([]caseRow, n)
	for i := range rows {
		c := caseRow{ID: int64(i + 1)}
		for _, f := range []struct {
			name string
			s    **string
			i    **int64
		}{
			{"department", &c.Department, nil}, {"ward", &c.Ward, nil}, {"facility", &c.Facility, nil},
			{"owner", &c.Owner, nil}, {"status", &c.Status, nil}, {"level", nil, &c.Level}, {"amount", nil, &c.Amount},
		} {
			if g.r.IntN(5) == 0 {
				continue // NULL
			}
			if f.s != nil {
				v := g.text(f.name)
				*f.s = &v
			} else {
				v := g.value(f.name).(int64)
				*f.i = &v
			}
		}
		rows[i] = c
	}
	return rows
}

func recLiteral(v any) string {
	if s, ok := v.(string); ok {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return fmt.Sprint(v)
}

// rule returns random rule text; attrs collects the attributes it names,
// with the field each is compared with.
func (g recGen) rule(attrs map[string]string) string {
	fields := []string{"department", "ward", "facility", "owner", "status", "level", "amount"}
	var conds []string
	for range 1 + g.r.IntN(3) {
		field := fields[g.r.IntN(len(fields))]
		attr := func() string {
			if field == "owner" && g.r.IntN(2) == 0 {
				return "subject.id"
			}
			name := fmt.Sprintf("%s_%d", field, g.r.IntN(2))
			attrs[name] = field
			return "subject." + name
		}
		switch op := g.r.IntN(10); {
		case op < 4:
			rhs := recLiteral(g.value(field))
			if g.r.IntN(2) == 0 {
				rhs = attr()
			}
			conds = append(conds, field+" = "+rhs)
		case op < 5:
			rhs := recLiteral(g.value(field))
			if g.r.IntN(2) == 0 {
				rhs = attr()
			}
			conds = append(conds, field+" != "+rhs)
		case op < 8:
			if g.r.IntN(2) == 0 {
				conds = append(conds, field+" in "+attr())
				break
			}
			lits := make([]string, 1+g.r.IntN(3))
			for i := range lits {
				lits[i] = recLiteral(g.value(field))
			}
			conds = append(conds, field+" in ("+strings.Join(lits, ", ")+")")
		case op < 9:
			conds = append(conds, field+" is null")
		default:
			conds = append(conds, field+" is not null")
		}
	}
	return strings.Join(conds, " and ")
}

func (g recGen) scope() rbac.Scope {
	switch g.r.IntN(8) {
	case 0:
		return rbac.OrgScope
	case 1, 2, 3:
		return rbac.Scope("dept:" + g.pick(recDepts))
	case 4, 5:
		return rbac.Scope("ward:" + g.pick(recWards))
	}
	return rbac.Scope("facility:" + g.pick(recFacilities))
}

// policy returns a random model, data rules and subjects' attributes.
func (g recGen) policy() (rbac.Model, []iam.DataRule, map[rbac.Subject]abac.Attributes) {
	m := rbac.Model{
		Permissions: recPerms,
		Scopes:      recTree,
		Members:     []rbac.Membership{{Member: "user:u0", Group: "group:g0"}, {Member: "user:u1", Group: "group:g0"}, {Member: "svc:u0", Group: "unit:o0"}},
	}
	nroles := 2 + g.r.IntN(4)
	for i := range nroles {
		r := rbac.Role{ID: rbac.RoleID(fmt.Sprintf("r%d", i))}
		for range 1 + g.r.IntN(2) {
			r.Permissions = append(r.Permissions, recRules[g.r.IntN(len(recRules))])
		}
		if g.r.IntN(5) == 0 {
			r.Deny = []rbac.Permission{recRules[g.r.IntN(len(recRules))]}
		}
		if i > 0 && g.r.IntN(3) == 0 {
			r.Inherits = []rbac.RoleID{rbac.RoleID(fmt.Sprintf("r%d", g.r.IntN(i)))}
		}
		m.Roles = append(m.Roles, r)
	}
	holders := append(slices.Clone(recSubjects), "group:g0", "unit:o0")
	seen := map[rbac.GrantKey]bool{}
	for range 4 + g.r.IntN(10) {
		gr := rbac.Grant{Subject: holders[g.r.IntN(len(holders))], Role: m.Roles[g.r.IntN(nroles)].ID, Scope: g.scope()}
		switch g.r.IntN(8) {
		case 0:
			gr.NotAfter = dsNoon.Add(-time.Hour) // expired
		case 1:
			gr.NotBefore, gr.NotAfter = dsNoon.Add(-time.Hour), dsNoon.Add(time.Hour)
		}
		if !seen[gr.Key()] {
			seen[gr.Key()] = true
			m.Grants = append(m.Grants, gr)
		}
	}
	attrNames := map[string]string{}
	var rules []iam.DataRule
	for range g.r.IntN(5) {
		// Roles and permissions the policy knows; the role need not hold
		// the permission (the rule then restricts roles that inherit it
		// and admits nothing).
		rules = append(rules, iam.DataRule{
			Role:       m.Roles[g.r.IntN(nroles)].ID,
			Permission: recRules[g.r.IntN(len(recRules))],
			Rule:       g.rule(attrNames),
		})
	}
	attrs := map[rbac.Subject]abac.Attributes{}
	for _, sub := range recSubjects {
		a := abac.Attributes{}
		for _, name := range slices.Sorted(maps.Keys(attrNames)) { // deterministic
			field := attrNames[name]
			switch p := g.r.IntN(10); {
			case p == 0: // missing
			case p < 8:
				a[name] = []any{g.value(field)}
			default:
				a[name] = []any{g.value(field), g.value(field)}
			}
		}
		attrs[sub] = a
	}
	return m, rules, attrs
}

func openCaseRowsSQLite(t testing.TB) *gorm.DB {
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

// TestRecordsAgreement is the proof that the three views of a data scope
// agree: for random policies, data rules, attributes and rows, on
// PostgreSQL and SQLite, the rows returned through gormscope and through
// Filter.AppendSQL are exactly the rows Filter.Match accepts, which are
// exactly the rows CheckRecord allows. It also chains a caller's own
// department condition before and after the scope and checks that no row
// of another department comes back.
func TestRecordsAgreement(t *testing.T) {
	t.Parallel()
	const rowsPerPolicy = 40
	policies := 120 // × 5 subjects × 3 permissions = 1,800 filters per database
	if raceBuild() || testing.Short() {
		policies = 8
	}
	seed := *recordsSeed
	t.Logf("seed %d (rerun with: go test ./iam -run TestRecordsAgreement -args -records.seed=%d)", seed, seed)

	dbs := []struct {
		name    string
		open    func(testing.TB) *gorm.DB
		dialect abac.Dialect
		param   string
	}{
		{"sqlite", openCaseRowsSQLite, abac.SQLite, "?"},
		{"postgres", testdb.Postgres, abac.Postgres, "$1"},
	}
	for _, d := range dbs {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			g := recGen{r: rand.New(rand.NewPCG(seed, 0x5c0e))}
			db := d.open(t)
			if err := db.Exec(createCaseRows).Error; err != nil {
				t.Fatalf("create table: %v", err)
			}
			sqlDB, err := db.DB()
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var tagged abac.Tagged
			fails, cases, matched, allRows, noneRows, checked := 0, 0, 0, 0, 0, 0
			for p := range policies {
				m, rules, attrs := g.policy()
				rows := g.rows(rowsPerPolicy)
				if err := db.Exec("DELETE FROM case_rows").Error; err != nil {
					t.Fatal(err)
				}
				if err := db.Table("case_rows").Create(&rows).Error; err != nil {
					t.Fatalf("insert: %v", err)
				}
				recs := make([]abac.Record, len(rows))
				for i := range rows {
					if recs[i], err = tagged.Record(&rows[i]); err != nil {
						t.Fatal(err)
					}
				}
				a, err := iam.New(ctx, iamtest.NewStore(m), iam.WithClock(iamtest.Clock(dsNoon)))
				if err != nil {
					t.Fatalf("policy %d: New: %v", p, err)
				}
				sc, err := iam.NewScoper(iam.DataScopes{Rules: rules, Attributes: iam.AttributesFunc(
					func(_ context.Context, sub iam.Subject) (abac.Attributes, error) { return attrs[sub], nil })})
				if err != nil {
					t.Fatalf("policy %d: NewScoper: %v", p, err)
				}
				for _, sub := range recSubjects {
					for _, perm := range recPerms {
						cases++
						f, err := a.Filter(ctx, sub, perm, sc)
						if err != nil {
							t.Fatalf("policy %d: Filter(%s, %s): %v", p, sub, perm, err)
						}
						switch {
						case f.MatchesAll():
							allRows++
						case f.MatchesNone():
							noneRows++
						}
						var want, viaCheck []int64
						for i, rec := range recs {
							if f.Match(rec) {
								want = append(want, rows[i].ID)
							}
							dec, err := a.CheckRecord(ctx, sub, perm, sc, rec)
							if err != nil {
								t.Fatalf("CheckRecord: %v", err)
							}
							if dec.Allowed {
								viaCheck = append(viaCheck, rows[i].ID)
							}
						}
						matched += len(want)

						var viaScope []int64
						if err := db.Table("case_rows").Scopes(gormscope.Scope(f, caseRowColumns)).Order("id").Pluck("id", &viaScope).Error; err != nil {
							t.Fatalf("policy %d %s %s: gormscope: %v\nfilter %v", p, sub, perm, err, f)
						}
						q, args, err := f.AppendSQL([]byte("SELECT id FROM case_rows WHERE id > "+d.param+" AND "), []any{int64(0)}, d.dialect, caseRowColumns)
						if err != nil {
							t.Fatalf("AppendSQL: %v", err)
						}
						viaSQL, err := recQueryIDs(sqlDB, string(q)+" ORDER BY id", args)
						if err != nil {
							t.Fatalf("policy %d: %s %v: %v", p, q, args, err)
						}

						// A caller's department condition, chained before and after.
						dept := g.pick(recDepts)
						var wantDept []int64
						for i := range rows {
							if rows[i].Department != nil && *rows[i].Department == dept && slices.Contains(want, rows[i].ID) {
								wantDept = append(wantDept, rows[i].ID)
							}
						}
						var before, after []int64
						if err := db.Table("case_rows").Where("department = ?", dept).Scopes(gormscope.Scope(f, caseRowColumns)).Order("id").Pluck("id", &before).Error; err != nil {
							t.Fatal(err)
						}
						if err := db.Table("case_rows").Scopes(gormscope.Scope(f, caseRowColumns)).Where("department = ?", dept).Order("id").Pluck("id", &after).Error; err != nil {
							t.Fatal(err)
						}

						if !slices.Equal(viaScope, want) || !slices.Equal(viaSQL, want) || !slices.Equal(viaCheck, want) ||
							!slices.Equal(before, wantDept) || !slices.Equal(after, wantDept) {
							fails++
							if fails <= 10 {
								t.Errorf("policy %d, %s %s disagree:\nfilter   %v\nSQL      %s %q\nMatch    %v\nCheck    %v\nscope    %v\nraw SQL  %v\ndept %s: want %v, before %v, after %v\nmodel %+v\nrules %+v\nattrs %v",
									p, sub, perm, f, q, args, want, viaCheck, viaScope, viaSQL, dept, wantDept, before, after, m, rules, attrs[sub])
							}
						}
					}
				}
				// Without data rules, the rows are also exactly those the
				// Check oracle allows.
				compiled, err := rbac.Compile(m)
				if err != nil {
					t.Fatal(err)
				}
				bare, err := verifiedScoper(a, iam.DataScopes{})
				if err != nil {
					t.Fatal(err)
				}
				for _, sub := range recSubjects {
					for _, perm := range recPerms {
						f, err := a.Filter(ctx, sub, perm, bare)
						if err != nil {
							t.Fatal(err)
						}
						var oracle, viaMatch []int64
						for i, rec := range recs {
							if checkOracle(t, a, compiled, sub, perm, rec, dsNoon, "") {
								oracle = append(oracle, rows[i].ID)
							}
							if f.Match(rec) {
								viaMatch = append(viaMatch, rows[i].ID)
							}
						}
						q, args, err := f.AppendSQL([]byte("SELECT id FROM case_rows WHERE "), nil, d.dialect, caseRowColumns)
						if err != nil {
							t.Fatal(err)
						}
						viaSQL, err := recQueryIDs(sqlDB, string(q)+" ORDER BY id", args)
						if err != nil {
							t.Fatalf("%s %v: %v", q, args, err)
						}
						checked++
						if !slices.Equal(oracle, viaMatch) || !slices.Equal(oracle, viaSQL) {
							fails++
							if fails <= 10 {
								t.Errorf("policy %d, %s %s without rules:\nfilter %v\nCheck  %v\nMatch  %v\nSQL    %v\nmodel %+v", p, sub, perm, f, oracle, viaMatch, viaSQL, m)
							}
						}
					}
				}
				a.Close()
			}
			t.Logf("%d filters over %d rows each: %d all, %d none, %d row matches, %d compared with Check, %d disagreements, %v",
				cases, rowsPerPolicy, allRows, noneRows, matched, checked, fails, time.Since(start))
			if matched == 0 || matched == cases*rowsPerPolicy || allRows == cases || noneRows == cases {
				t.Errorf("degenerate test: %d matches, %d all, %d none", matched, allRows, noneRows)
			}
		})
	}
}

func recQueryIDs(db *sql.DB, q string, args []any) ([]int64, error) {
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
