package gormscope_test

import (
	"slices"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/adapters/gormscope"
	"github.com/civic-platform/security/internal/testdb"
)

// softCase is Case with gorm's soft delete.
type softCase struct {
	ID        int64 `gorm:"primaryKey;autoIncrement:false"`
	Kind      string
	Dept      *string
	DeletedAt gorm.DeletedAt
}

func (softCase) TableName() string { return "soft_cases" }

// TestScopeStatementsThatBypassWhere runs the statements that do not read
// rows through a WHERE clause, or that write rows after one matched
// nothing, and checks that none of them reads or changes a row the filter
// does not admit.
func TestScopeStatementsThatBypassWhere(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) *gorm.DB{"sqlite": openSQLite, "postgres": testdb.Postgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			seed(t, db, []Case{
				{ID: 1, Kind: "bylaw", Dept: ptr("roads")}, {ID: 2, Kind: "fire", Dept: ptr("roads")},
				{ID: 3, Kind: "bylaw", Dept: ptr("parks")}, {ID: 4, Kind: "fire"},
			})
			roads := gormscope.Scope(mustFilter(t, abac.Attributes{"dept": {"roads"}}, "dept = subject.dept"), caseColumns)
			unchanged := func(what string) {
				t.Helper()
				var c Case
				if err := db.Table("cases").First(&c, 3).Error; err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if c.Kind != "bylaw" || c.Status != nil || c.Dept == nil || *c.Dept != "parks" {
					t.Errorf("%s changed a row outside the filter: %+v", what, c)
				}
			}

			// Save of a row the filter does not admit: the UPDATE matches
			// nothing, and gorm then upserts.
			err := db.Table("cases").Scopes(roads).Save(&Case{ID: 3, Kind: "hacked", Dept: ptr("parks"), Status: ptr("x")}).Error
			if err == nil {
				t.Errorf("Save of a row outside the filter: no error")
			}
			unchanged("Save")
			err = db.Table("cases").Scopes(roads).Save(&[]Case{{ID: 3, Kind: "hacked", Dept: ptr("parks"), Status: ptr("x")}}).Error
			if err == nil {
				t.Errorf("Save of a slice: no error")
			}
			unchanged("Save of a slice")
			err = db.Table("cases").Scopes(roads).Clauses(clause.OnConflict{UpdateAll: true}).
				Create(&Case{ID: 3, Kind: "hacked", Dept: ptr("parks"), Status: ptr("x")}).Error
			if err == nil {
				t.Errorf("upsert under the scope: no error")
			}
			unchanged("upsert")
			// Inserts that do not update still work.
			if err := db.Table("cases").Scopes(roads).Clauses(clause.OnConflict{DoNothing: true}).
				Create(&Case{ID: 3, Kind: "hacked", Dept: ptr("parks"), Status: ptr("x")}).Error; err != nil {
				t.Errorf("insert or do nothing under the scope: %v", err)
			}
			unchanged("insert or do nothing")
			if err := db.Table("cases").Scopes(roads).Create(&Case{ID: 9, Kind: "new", Dept: ptr("roads")}).Error; err != nil {
				t.Errorf("Create under the scope: %v", err)
			}
			if err := db.Table("cases").Delete(&Case{ID: 9}).Error; err != nil {
				t.Fatal(err)
			}
			// Save of a row the filter admits still works.
			if err := db.Table("cases").Scopes(roads).Save(&Case{ID: 1, Kind: "seen", Dept: ptr("roads")}).Error; err != nil {
				t.Errorf("Save of an admitted row: %v", err)
			}

			// Raw SQL and Exec do not build a WHERE clause: the scope
			// cannot apply, so the statement fails rather than run wide.
			var ids []int64
			if err := db.Scopes(roads).Raw("SELECT id FROM cases").Scan(&ids).Error; err == nil {
				t.Errorf("Raw under the scope: no error, rows %v", ids)
			}
			if err := db.Scopes(roads).Exec("UPDATE cases SET status = 'x'").Error; err == nil {
				t.Errorf("Exec under the scope: no error")
			}
			unchanged("Exec")

			// Statements that do use WHERE.
			for qname, q := range map[string]func(*gorm.DB) ([]int64, error){
				"inline conditions with OR": func(db *gorm.DB) ([]int64, error) {
					var cs []Case
					err := db.Scopes(roads).Find(&cs, "kind = ? OR 1 = 1", "x").Error
					return caseIDs(cs), err
				},
				"primary keys": func(db *gorm.DB) ([]int64, error) {
					var cs []Case
					err := db.Scopes(roads).Find(&cs, []int64{1, 2, 3, 4}).Error
					return caseIDs(cs), err
				},
				"clause.Or": func(db *gorm.DB) ([]int64, error) {
					var cs []Case
					err := db.Scopes(roads).Clauses(clause.Where{Exprs: []clause.Expression{
						clause.Or(clause.Eq{Column: "kind", Value: "bylaw"}, clause.Eq{Column: "kind", Value: "fire"})}}).Find(&cs).Error
					return caseIDs(cs), err
				},
				"or after clauses": func(db *gorm.DB) ([]int64, error) {
					var cs []Case
					err := db.Clauses(clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "1 = 1"}}}).Scopes(roads).Or("1 = 1").Find(&cs).Error
					return caseIDs(cs), err
				},
				"find in batches": func(db *gorm.DB) ([]int64, error) {
					var all []int64
					var batch []Case
					err := db.Scopes(roads).Where("kind = ?", "bylaw").Or("kind = ?", "fire").FindInBatches(&batch, 1, func(tx *gorm.DB, _ int) error {
						all = append(all, caseIDs(batch)...)
						return nil
					}).Error
					return all, err
				},
				"rows": func(db *gorm.DB) ([]int64, error) {
					rows, err := db.Scopes(roads).Or("1 = 1").Select("id").Rows()
					if err != nil {
						return nil, err
					}
					defer rows.Close()
					var out []int64
					for rows.Next() {
						var id int64
						if err := rows.Scan(&id); err != nil {
							return nil, err
						}
						out = append(out, id)
					}
					return out, rows.Err()
				},
				"session reuse": func(db *gorm.DB) ([]int64, error) {
					tx := db.Scopes(roads).Session(&gorm.Session{})
					var a, b []Case
					if err := tx.Or("1 = 1").Find(&a).Error; err != nil {
						return nil, err
					}
					err := tx.Where("kind = ?", "bylaw").Or("kind = ?", "fire").Find(&b).Error
					return append(caseIDs(a), caseIDs(b)...), err
				},
				"as a subquery": func(db *gorm.DB) ([]int64, error) {
					var cs []Case
					sub := db.Session(&gorm.Session{NewDB: true}).Table("cases").Scopes(roads).Or("1 = 1").Select("id")
					err := db.Where("id IN (?)", sub).Find(&cs).Error
					return caseIDs(cs), err
				},
				"as a group condition": func(db *gorm.DB) ([]int64, error) {
					var cs []Case
					inner := db.Session(&gorm.Session{NewDB: true}).Scopes(roads).Where("kind = ?", "bylaw").Or("kind = ?", "fire")
					err := db.Where(inner).Find(&cs).Error
					return caseIDs(cs), err
				},
				"as a group condition with a later where": func(db *gorm.DB) ([]int64, error) {
					var cs []Case
					err := db.Where(db.Session(&gorm.Session{NewDB: true}).Scopes(roads)).Where("kind <> ?", "x").Find(&cs).Error
					return caseIDs(cs), err
				},
				"first or init": func(db *gorm.DB) ([]int64, error) {
					var c Case
					err := db.Scopes(roads).Where(Case{ID: 3}).FirstOrInit(&c).Error
					if c.Kind != "" {
						return []int64{c.ID}, err
					}
					return nil, err
				},
			} {
				got, err := q(db.Table("cases"))
				if err != nil {
					t.Errorf("%s: %v", qname, err)
					continue
				}
				if len(got) == 0 && qname != "first or init" {
					t.Errorf("%s: no rows; the test would prove nothing", qname)
				}
				for _, id := range got {
					if id != 1 && id != 2 {
						t.Errorf("%s: leaked row %d (got %v)", qname, id, got)
					}
				}
			}

			// Model with a primary key outside the filter changes nothing.
			if res := db.Scopes(roads).Model(&Case{ID: 3}).Table("cases").Update("status", "x"); res.Error != nil || res.RowsAffected != 0 {
				t.Errorf("Update by primary key outside the filter: %d rows, %v", res.RowsAffected, res.Error)
			}
			if res := db.Table("cases").Scopes(roads).Delete(&Case{ID: 3}); res.Error != nil || res.RowsAffected != 0 {
				t.Errorf("Delete by primary key outside the filter: %d rows, %v", res.RowsAffected, res.Error)
			}
			unchanged("Update and Delete by primary key")

			// Soft delete and Unscoped keep the filter.
			if err := db.Exec("CREATE TABLE soft_cases (id BIGINT PRIMARY KEY, kind TEXT, dept TEXT, deleted_at TIMESTAMP)").Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Create(&[]softCase{{ID: 1, Kind: "a", Dept: ptr("roads")}, {ID: 2, Kind: "b", Dept: ptr("parks")}}).Error; err != nil {
				t.Fatal(err)
			}
			if res := db.Scopes(roads).Or("1 = 1").Delete(&softCase{}); res.Error != nil || res.RowsAffected != 1 {
				t.Errorf("soft Delete: %d rows, %v", res.RowsAffected, res.Error)
			}
			var soft []softCase
			if err := db.Unscoped().Scopes(roads).Or("1 = 1").Find(&soft).Error; err != nil || len(soft) != 1 || soft[0].ID != 1 {
				t.Errorf("Unscoped Find: %+v, %v", soft, err)
			}
			if res := db.Unscoped().Scopes(roads).Or("1 = 1").Delete(&softCase{}); res.Error != nil || res.RowsAffected != 1 {
				t.Errorf("Unscoped Delete: %d rows, %v", res.RowsAffected, res.Error)
			}
			var left []int64
			if err := db.Unscoped().Model(&softCase{}).Pluck("id", &left).Error; err != nil || !slices.Equal(left, []int64{2}) {
				t.Errorf("soft_cases left: %v, %v", left, err)
			}

			// A join with qualified columns.
			joined := gormscope.Scope(mustFilter(t, abac.Attributes{"dept": {"roads"}}, "dept = subject.dept"), map[string]string{"dept": "cases.dept"})
			var jids []int64
			err = db.Table("cases").Joins("LEFT JOIN soft_cases ON soft_cases.id = cases.id").Scopes(joined).Or("1 = 1").Pluck("cases.id", &jids).Error
			if err != nil {
				t.Errorf("join: %v", err)
			}
			for _, id := range jids {
				if id != 1 && id != 2 {
					t.Errorf("join: leaked row %d", id)
				}
			}
		})
	}
}

func caseIDs(cs []Case) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}
